//! [`ConnectedObject`]: the identity map from the application model's side, and
//! [`RemoteUrls`]: where a linked remote entity can be seen.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use url::Url;

use crate::config::registry::Registry;
use crate::config::tenant::Tenant;
use crate::idmap::{
    AmbiguousLinks, FieldError, IdMap, IdMapError, IdMapStore, LocalRef, OutboxError, PushId,
    PushIntent, PushOutbox, Realm, RemoteRef,
};
use crate::types::MarketplaceKey;
use time::OffsetDateTime;

/// A model of the application whose records are linked to remote entities.
///
/// Implement the two required methods; the others come with them:
///
/// ```
/// # async fn demo() -> Result<(), maestrano::Error> {
/// use std::borrow::Cow;
/// use maestrano::idmap::{ConnectedObject, InMemoryIdMapStore};
/// use maestrano::idmap::{Realm, RemoteRef};
/// use maestrano::ports::{Clock, SystemClock};
///
/// struct Invoice { id: u64 }
///
/// impl ConnectedObject for Invoice {
///     fn class_name(&self) -> &str { "Invoice" }
///     fn local_id(&self) -> Cow<'_, str> { self.id.to_string().into() }
/// }
///
/// let store = InMemoryIdMapStore::new();
/// let realm = Realm::new("acme-corp", "cld-1a2b")?;
/// let invoice = Invoice { id: 42 };
/// invoice.link(&store, SystemClock.now(), RemoteRef::new(realm.clone(), "Invoices", "inv-9")?).await?;
/// let link = invoice.id_map_for(&store, &realm).await?.expect("linked");
/// assert_eq!(link.remote.remote_id(), "inv-9");
/// # Ok(()) }
/// ```
pub trait ConnectedObject {
    /// The model's class name (`Invoice`, `Person`, …), the same for every record.
    fn class_name(&self) -> &str;

    /// This record's id.
    fn local_id(&self) -> Cow<'_, str>;

    /// This record as a checked [`LocalRef`].
    fn local_ref(&self) -> Result<LocalRef, FieldError> {
        LocalRef::new(self.class_name(), self.local_id().into_owned())
    }

    /// A new link of this record to `remote`, made at `now`, with no push
    /// timestamps and no metadata: set those on it, then hand it to [`IdMapStore::link`].
    fn new_id_map(&self, remote: RemoteRef, now: OffsetDateTime) -> Result<IdMap, FieldError> {
        Ok(IdMap::new(self.local_ref()?, remote, now))
    }

    /// Every link of this record.
    fn id_maps<'a>(
        &'a self,
        store: &'a dyn IdMapStore,
    ) -> impl Future<Output = Result<Vec<IdMap>, IdMapError>> + Send + 'a
    where
        Self: Sync,
    {
        async move { store.links_of(&self.local_ref()?).await }
    }

    /// This record's link in a provider and realm, if any.
    ///
    /// A record has at most one link per entity name in a realm; when it has several (linked
    /// under several entity names), this fails with [`IdMapError::Ambiguous`]: use
    /// [`id_map_for_entity`](Self::id_map_for_entity) then.
    fn id_map_for<'a>(
        &'a self,
        store: &'a dyn IdMapStore,
        realm: &'a Realm,
    ) -> impl Future<Output = Result<Option<IdMap>, IdMapError>> + Send + 'a
    where
        Self: Sync,
    {
        async move {
            let local = self.local_ref()?;
            let mut links = store.links_in(&local, realm).await?;
            match links.len() {
                0 => Ok(None),
                1 => Ok(links.pop()),
                _ => Err(IdMapError::Ambiguous(Box::new(AmbiguousLinks {
                    local,
                    realm: realm.clone(),
                    entities: links
                        .into_iter()
                        .map(|l| l.remote.entity().to_owned())
                        .collect(),
                }))),
            }
        }
    }

    /// This record's link in a provider and realm under one entity name, if any.
    fn id_map_for_entity<'a>(
        &'a self,
        store: &'a dyn IdMapStore,
        realm: &'a Realm,
        entity: &'a str,
    ) -> impl Future<Output = Result<Option<IdMap>, IdMapError>> + Send + 'a
    where
        Self: Sync,
    {
        async move {
            let links = store.links_in(&self.local_ref()?, realm).await?;
            Ok(links.into_iter().find(|l| l.remote.entity() == entity))
        }
    }

    /// Links this record to `remote` at `now` (an idempotent upsert: see
    /// [`IdMapStore::link`]) and returns the link as stored.
    fn link<'a>(
        &'a self,
        store: &'a dyn IdMapStore,
        now: OffsetDateTime,
        remote: RemoteRef,
    ) -> impl Future<Output = Result<IdMap, IdMapError>> + Send + 'a
    where
        Self: Sync,
    {
        async move {
            let map = self.new_id_map(remote, now)?;
            store.link(map).await
        }
    }

    /// Records that this record must be pushed to `entity` (a Connec! collection) in `realm`
    /// with the fields of `payload`, durably, in the store that keeps its links. Call it when
    /// the record is saved; a `maestrano::push::PushWorker` sends it. Enqueueing again before
    /// the push is sent replaces the payload: the latest version is what goes out.
    fn enqueue_push<'a>(
        &'a self,
        outbox: &'a dyn PushOutbox,
        realm: &'a Realm,
        entity: &'a str,
        payload: serde_json::Value,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<PushId, OutboxError>> + Send + 'a
    where
        Self: Sync,
    {
        async move {
            let intent = PushIntent::new(self.local_ref()?, realm.clone(), entity, payload)?;
            outbox.enqueue(intent, now).await
        }
    }

    /// Removes this record's links in a provider and realm; returns how many there were.
    fn unlink<'a>(
        &'a self,
        store: &'a dyn IdMapStore,
        realm: &'a Realm,
    ) -> impl Future<Output = Result<u64, IdMapError>> + Send + 'a
    where
        Self: Sync,
    {
        async move { store.unlink_local(&self.local_ref()?, Some(realm)).await }
    }

    /// Removes every link of this record (when it is deleted); returns how many there were.
    fn unlink_all<'a>(
        &'a self,
        store: &'a dyn IdMapStore,
    ) -> impl Future<Output = Result<u64, IdMapError>> + Send + 'a
    where
        Self: Sync,
    {
        async move { store.unlink_local(&self.local_ref()?, None).await }
    }

    /// Where this record's remote entity in a provider and realm can be seen, or `None` when
    /// the record is not linked there.
    ///
    /// For a marketplace tenant: `{connec.host}{connec.base_path}/{realm}/{entity
    /// lowercased}/{remote id}`; for other providers, what [`RemoteUrls`] was told.
    fn remote_url<'a>(
        &'a self,
        store: &'a dyn IdMapStore,
        realm: &'a Realm,
        urls: &'a RemoteUrls,
    ) -> impl Future<Output = Result<Option<Url>, RemoteUrlError>> + Send + 'a
    where
        Self: Sync,
    {
        async move {
            match self.id_map_for(store, realm).await? {
                Some(map) => Ok(Some(urls.url_of(&map.remote)?)),
                None => Ok(None),
            }
        }
    }
}

/// A remote URL could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteUrlError {
    /// The store failed while the record's link was looked up.
    #[error(transparent)]
    Store(#[from] IdMapError),
    /// The provider is neither registered nor a known marketplace.
    #[error(
        "no URL is known for provider {provider:?}: expected a registered provider or a known marketplace"
    )]
    UnknownProvider {
        /// The provider.
        provider: String,
    },
    /// The marketplace's configuration has no `connec` block.
    #[error("marketplace {marketplace:?} has no connec block, so its entities have no URL")]
    NoConnec {
        /// The marketplace key.
        marketplace: String,
    },
    /// The base URL cannot take path segments (`mailto:`, `data:` …).
    #[error("base URL {base:?} of provider {provider:?} cannot take a path")]
    CannotBeABase {
        /// The provider.
        provider: String,
        /// The base URL.
        base: String,
    },
    /// A part of the remote reference cannot be one path segment: stored ids are data, and an
    /// id such as `../cld-2/people/p-1` would point the URL at another customer's record.
    #[error(
        "the {field} of {remote} cannot go into a URL: expected {}",
        crate::types::SAFE_SEGMENT
    )]
    UnsafeSegment {
        /// `realm`, `entity` or `remote_id`.
        field: &'static str,
        /// The remote entity.
        remote: RemoteRef,
    },
    /// The provider's resolver returned no URL for the entity.
    #[error("the URL resolver of provider {provider:?} has no URL for {remote}")]
    Unresolved {
        /// The provider.
        provider: String,
        /// The remote entity.
        remote: RemoteRef,
    },
}

type Resolver = Arc<dyn Fn(&RemoteRef) -> Option<Url> + Send + Sync>;

#[derive(Clone)]
enum ProviderUrl {
    Base(Url),
    Resolver(Resolver),
}

impl fmt::Debug for ProviderUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Base(url) => f.debug_tuple("Base").field(&url.as_str()).finish(),
            Self::Resolver(_) => f.write_str("Resolver(..)"),
        }
    }
}

/// Where remote entities can be seen: the provider → base URL registry the application fills,
/// and the marketplaces whose `connec` block gives theirs.
///
/// A provider registered here wins over a marketplace of the same name; otherwise a provider
/// that is a tenant given with [`with_tenant`](Self::with_tenant), or a marketplace of the
/// registry given with [`with_marketplaces`](Self::with_marketplaces), resolves to
/// `{connec.host}{connec.base_path}/{realm}/{entity lowercased}/{remote id}`.
///
/// Realm, entity and remote id must each stay one path segment however often a proxy
/// percent-decodes them (no `/`, `\`, `.`/`..` or control characters, also encoded):
/// otherwise [`RemoteUrlError::UnsafeSegment`], since a stored id such as `../cld-2/people/p-1`
/// would point at another customer's record.
///
/// ```
/// use maestrano::idmap::RemoteUrls;
/// use maestrano::idmap::{Realm, RemoteRef, RemoteUrlError};
///
/// let urls = RemoteUrls::new()
///     .with_base_url("xero", "https://xero.example/orgs".parse().unwrap());
/// let org = Realm::new("xero", "org 1").unwrap();
/// let remote = RemoteRef::new(org.clone(), "Invoices", "inv-7").unwrap();
/// assert_eq!(
///     urls.url_of(&remote).unwrap().as_str(),
///     "https://xero.example/orgs/org%201/invoices/inv-7"
/// );
/// let walk = RemoteRef::new(org, "Invoices", "../org-2/invoices/inv-1").unwrap();
/// assert!(matches!(urls.url_of(&walk), Err(RemoteUrlError::UnsafeSegment { .. })));
/// ```
#[derive(Debug, Clone, Default)]
pub struct RemoteUrls {
    providers: BTreeMap<String, ProviderUrl>,
    tenants: BTreeMap<String, Tenant>,
    marketplaces: Option<Registry>,
}

impl RemoteUrls {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Entities of `provider` are at `{base}/{realm}/{entity lowercased}/{remote id}`, each
    /// part percent-encoded as one path segment.
    pub fn with_base_url(mut self, provider: impl Into<String>, base: Url) -> Self {
        self.providers
            .insert(provider.into(), ProviderUrl::Base(base));
        self
    }

    /// Entities of `provider` are where `resolve` says (for providers whose URLs have another
    /// shape); `None` from it is a [`RemoteUrlError::Unresolved`].
    pub fn with_resolver(
        mut self,
        provider: impl Into<String>,
        resolve: impl Fn(&RemoteRef) -> Option<Url> + Send + Sync + 'static,
    ) -> Self {
        self.providers
            .insert(provider.into(), ProviderUrl::Resolver(Arc::new(resolve)));
        self
    }

    /// Entities of this tenant's marketplace are under its `connec` block.
    pub fn with_tenant(mut self, tenant: Tenant) -> Self {
        self.tenants
            .insert(tenant.marketplace().as_str().to_owned(), tenant);
        self
    }

    /// Entities of every marketplace of `registry` are under that marketplace's `connec`
    /// block, as configured at the time of the call.
    pub fn with_marketplaces(mut self, registry: Registry) -> Self {
        self.marketplaces = Some(registry);
        self
    }

    /// Where `remote` can be seen.
    pub fn url_of(&self, remote: &RemoteRef) -> Result<Url, RemoteUrlError> {
        let provider = remote.provider();
        match self.providers.get(provider) {
            Some(ProviderUrl::Base(base)) => return under(provider, base, &[], remote),
            Some(ProviderUrl::Resolver(resolve)) => {
                return resolve(remote).ok_or_else(|| RemoteUrlError::Unresolved {
                    provider: provider.to_owned(),
                    remote: remote.clone(),
                });
            }
            None => {}
        }
        let tenant = match self.tenants.get(provider) {
            Some(tenant) => Some(tenant.clone()),
            None => self.marketplaces.as_ref().and_then(|registry| {
                let key = MarketplaceKey::new(provider).ok()?;
                registry.with(&key).ok()
            }),
        };
        let Some(tenant) = tenant else {
            return Err(RemoteUrlError::UnknownProvider {
                provider: provider.to_owned(),
            });
        };
        let connec = tenant
            .config()
            .connec()
            .ok_or_else(|| RemoteUrlError::NoConnec {
                marketplace: provider.to_owned(),
            })?;
        let base_path: Vec<&str> = connec
            .base_path()
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        under(provider, connec.host(), &base_path, remote)
    }
}

/// `{base}/{prefix…}/{realm}/{entity lowercased}/{remote id}`.
fn under(
    provider: &str,
    base: &Url,
    prefix: &[&str],
    remote: &RemoteRef,
) -> Result<Url, RemoteUrlError> {
    let entity = remote.entity().to_lowercase();
    for (field, value) in [
        ("realm", remote.realm().realm()),
        ("entity", entity.as_str()),
        ("remote_id", remote.remote_id()),
    ] {
        if !crate::types::is_safe_segment(value) {
            return Err(RemoteUrlError::UnsafeSegment {
                field,
                remote: remote.clone(),
            });
        }
    }
    let mut url = base.clone();
    {
        let mut segments = url
            .path_segments_mut()
            .map_err(|()| RemoteUrlError::CannotBeABase {
                provider: provider.to_owned(),
                base: base.to_string(),
            })?;
        segments.pop_if_empty();
        segments.extend(prefix);
        segments.push(remote.realm().realm());
        segments.push(&entity);
        segments.push(remote.remote_id());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MarketplaceConfig;

    fn tenant(with_connec: bool) -> Tenant {
        let mut b = MarketplaceConfig::builder("acme-corp")
            .app_host("https://app.example.test")
            .api_id("app-1")
            .api_key(crate::types::Secret::new("k"))
            .api_host("https://api.example.test")
            .sso_idp("https://idp.example.test")
            .x509_fingerprint("01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67");
        if with_connec {
            b = b
                .connec_host("https://connec.example.test/")
                .connec_base_path("/api/v2/");
        }
        Tenant::new(b.build().unwrap())
    }

    fn remote(provider: &str) -> RemoteRef {
        RemoteRef::new(Realm::new(provider, "cld-1a2b").unwrap(), "People", "p-1").unwrap()
    }

    #[test]
    fn marketplace_url_comes_from_connec() {
        let urls = RemoteUrls::new().with_tenant(tenant(true));
        assert_eq!(
            urls.url_of(&remote("acme-corp")).unwrap().as_str(),
            "https://connec.example.test/api/v2/cld-1a2b/people/p-1"
        );
        let urls = RemoteUrls::new().with_tenant(tenant(false));
        assert!(matches!(
            urls.url_of(&remote("acme-corp")),
            Err(RemoteUrlError::NoConnec { marketplace }) if marketplace == "acme-corp"
        ));
    }

    #[test]
    fn registered_provider_wins_and_unknown_fails() {
        let urls = RemoteUrls::new()
            .with_tenant(tenant(true))
            .with_base_url(
                "acme-corp",
                "https://other.example.test/x/".parse().unwrap(),
            )
            .with_resolver("qb", |r| {
                format!(
                    "https://qb.example.test/app/{}?id={}",
                    r.entity(),
                    r.remote_id()
                )
                .parse()
                .ok()
            });
        assert_eq!(
            urls.url_of(&remote("acme-corp")).unwrap().as_str(),
            "https://other.example.test/x/cld-1a2b/people/p-1"
        );
        assert_eq!(
            urls.url_of(&remote("qb")).unwrap().as_str(),
            "https://qb.example.test/app/People?id=p-1"
        );
        assert!(matches!(
            urls.url_of(&remote("xero")),
            Err(RemoteUrlError::UnknownProvider { provider }) if provider == "xero"
        ));
        let urls = RemoteUrls::new().with_base_url("m", "mailto:x@example.test".parse().unwrap());
        assert!(matches!(
            urls.url_of(&remote("m")),
            Err(RemoteUrlError::CannotBeABase { .. })
        ));
        let urls = RemoteUrls::new().with_resolver("n", |_| None);
        assert!(matches!(
            urls.url_of(&remote("n")),
            Err(RemoteUrlError::Unresolved { .. })
        ));
    }

    #[test]
    fn segments_are_percent_encoded() {
        let urls = RemoteUrls::new().with_base_url("p", "https://p.example.test".parse().unwrap());
        let remote = RemoteRef::new(Realm::new("p", "a b").unwrap(), "E", "..x?y#z").unwrap();
        let url = urls.url_of(&remote).unwrap();
        assert_eq!(url.as_str(), "https://p.example.test/a%20b/e/..x%3Fy%23z");
        assert_eq!(url.path_segments().unwrap().count(), 3);
        // Encoding is not enough where a proxy decodes %2F: a walk is refused.
        let walk = RemoteRef::new(Realm::new("p", "a b").unwrap(), "E", "../x").unwrap();
        assert!(matches!(
            urls.url_of(&walk),
            Err(RemoteUrlError::UnsafeSegment {
                field: "remote_id",
                ..
            })
        ));
    }
}
