//! URL helpers of the configuration; a tenant's SSO URLs are built from `sso.idm` (the application side) and `sso.idp`
//! (the marketplace side, never `api.host`).

use url::Url;

/// Appends `path_and_query` to `base`, with exactly one slash between them, keeping any path
/// `base` has (`https://hub.example/x/` + `/app_logout` = `https://hub.example/x/app_logout`).
pub(crate) fn join(base: &Url, path_and_query: &str) -> Result<Url, url::ParseError> {
    let base = base.as_str().trim_end_matches('/');
    let tail = path_and_query.trim_start_matches('/');
    Url::parse(&format!("{base}/{tail}"))
}

/// `url` as text, without the lone trailing slash the `url` crate adds to a bare origin, so
/// that `http://localhost:3000` is exported as it was configured.
pub(crate) fn display_url(url: &Url) -> String {
    let s = url.as_str();
    if url.path() == "/" && url.query().is_none() && url.fragment().is_none() {
        s.strip_suffix('/').unwrap_or(s).to_owned()
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_never_doubles_or_drops_the_slash() {
        let cases = [
            ("http://localhost:3000", "/a/b", "http://localhost:3000/a/b"),
            (
                "http://localhost:3000/",
                "/a/b",
                "http://localhost:3000/a/b",
            ),
            ("http://localhost:3000/", "a/b", "http://localhost:3000/a/b"),
            (
                "https://hub.example/x/",
                "/app_logout",
                "https://hub.example/x/app_logout",
            ),
            (
                "https://hub.example/x",
                "/y/?m=1",
                "https://hub.example/x/y/?m=1",
            ),
        ];
        for (base, path, want) in cases {
            let got = join(&Url::parse(base).unwrap(), path).unwrap();
            assert_eq!(got.as_str(), want, "{base} + {path}");
        }
    }

    #[test]
    fn display_strips_only_the_bare_origin_slash() {
        let u = |s| Url::parse(s).unwrap();
        assert_eq!(
            display_url(&u("http://localhost:3000")),
            "http://localhost:3000"
        );
        assert_eq!(display_url(&u("http://h/x/")), "http://h/x/");
        assert_eq!(display_url(&u("http://h/?q=1")), "http://h/?q=1");
    }
}
