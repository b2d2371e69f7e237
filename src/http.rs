//! Plain request/response values. The core builds [`HttpRequest`]s and reads
//! [`HttpResponse`]s; a transport (fetch in wasm, reqwest in host tests) moves them.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

// Requests carry `Authorization` headers: never print them.
impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl HttpRequest {
    pub fn new(method: Method, url: String) -> HttpRequest {
        HttpRequest {
            method,
            url,
            headers: vec![("Accept".into(), "application/json".into())],
            body: None,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> HttpRequest {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn bearer(self, token: &str) -> HttpRequest {
        self.header("Authorization", &["Bearer ", token].concat())
    }

    pub fn json(mut self, body: String) -> HttpRequest {
        self.headers
            .push(("Content-Type".into(), "application/json".into()));
        self.body = Some(body);
        self
    }

    pub fn form(mut self, pairs: &[(&str, &str)]) -> HttpRequest {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.headers.push((
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        self.body = Some(body);
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    /// First header named `name`, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// `Retry-After` in milliseconds. Genesys sends whole seconds; an HTTP-date
    /// form is not used by Genesys and is ignored.
    pub fn retry_after_ms(&self) -> Option<u64> {
        let v = self.header("retry-after")?.trim();
        let secs: u64 = v.parse().ok()?;
        Some(secs.saturating_mul(1000))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// No complete answer within the request timeout.
    Timeout,
    /// Cancelled by the caller.
    Aborted,
    /// Connection refused, reset, DNS, CORS, a truncated body… (detail for logs; no secrets).
    Network(String),
}

/// The `key=value` pairs of a query string or form body, decoded.
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_and_queries_round_trip() {
        let r = HttpRequest::new(Method::Post, "http://h/oauth/token".into())
            .form(&[("grant_type", "client_credentials"), ("x", "a b&c=d/é")]);
        let body = r.body.unwrap();
        assert_eq!(body, "grant_type=client_credentials&x=a+b%26c%3Dd%2F%C3%A9");
        assert_eq!(
            parse_query(&body)[1],
            ("x".to_string(), "a b&c=d/é".to_string())
        );
        assert_eq!(
            parse_query("code=x%2By&state=&flag"),
            vec![
                ("code".into(), "x+y".into()),
                ("state".into(), "".into()),
                ("flag".into(), "".into())
            ]
        );
    }

    #[test]
    fn retry_after_reads_whole_seconds_only() {
        let r = |v: &str| HttpResponse {
            status: 429,
            headers: vec![("retry-after".into(), v.into())],
            body: String::new(),
        };
        assert_eq!(r("3").retry_after_ms(), Some(3000));
        assert_eq!(r(" 0 ").retry_after_ms(), Some(0));
        assert_eq!(r("Wed, 21 Oct 2026 07:28:00 GMT").retry_after_ms(), None);
    }

    #[test]
    fn debug_never_prints_headers() {
        let r = HttpRequest::new(Method::Get, "https://api.x/y".into()).bearer("SECRET-TOKEN");
        assert!(!format!("{r:?}").contains("SECRET"));
    }
}
