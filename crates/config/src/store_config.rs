//! `[env.NAME.backup-store]`: where an environment's backups go off the runner, checked when
//! the config loads and free of any client, so it is unit tested on its own.

use crate::secrets::SecretSource;

/// An S3-compatible bucket (AWS S3, MinIO, GCS's S3 API) and a key prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// `s3://bucket/prefix` as written, for messages and the catalog.
    pub url: String,
    pub bucket: String,
    /// Key prefix without leading or trailing `/` (may be empty).
    pub prefix: String,
    /// Endpoint of an S3-compatible service; `None` is AWS.
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: SecretSource,
    pub secret_access_key: SecretSource,
    pub session_token: Option<SecretSource>,
    pub allow_http: bool,
    /// Keep the local file too once the store holds a verified copy.
    pub keep_local: bool,
    /// Size of each part of a multipart upload, in bytes.
    pub part_size: usize,
}

/// Default part size: large enough for few requests, small enough to keep memory bounded
/// (a few parts are in flight at once).
pub const DEFAULT_PART_MB: u64 = 16;

/// `s3://bucket/some/prefix` -> (`bucket`, `some/prefix`).
pub fn parse_url(url: &str) -> Result<(String, String), String> {
    let rest = url.strip_prefix("s3://").ok_or_else(|| {
        format!("must start with s3:// (s3://BUCKET or s3://BUCKET/PREFIX), not {url:?}")
    })?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && !bucket.starts_with(['-', '.'])
        && !bucket.ends_with(['-', '.']);
    if !ok {
        return Err(format!(
            "names bucket {bucket:?}, which is not a valid bucket name (3-63 characters: a-z, 0-9, '-', '.')"
        ));
    }
    let prefix = prefix.trim_matches('/');
    if prefix.split('/').any(|p| p == ".." || p == ".") || prefix.contains("//") {
        return Err(format!(
            "has a key prefix with '.', '..' or '//': {prefix:?}"
        ));
    }
    Ok((bucket.to_string(), prefix.to_string()))
}

/// An endpoint must be `https://`, or `http://` with `allow-http = true`.
pub fn check_endpoint(endpoint: &str, allow_http: bool) -> Result<(), String> {
    if endpoint.starts_with("https://") {
        return Ok(());
    }
    if endpoint.starts_with("http://") {
        return if allow_http {
            Ok(())
        } else {
            Err(format!(
                "{endpoint} is plain HTTP: backups and credentials would cross the network unencrypted; use https://, or set allow-http = true for a store on this machine or a trusted network"
            ))
        };
    }
    Err(format!(
        "must be an http:// or https:// URL, not {endpoint:?}"
    ))
}

impl StoreConfig {
    /// The key of `file` of env `env`: `PREFIX/ENV/FILE`.
    pub fn key(&self, env: &str, file: &str) -> String {
        if self.prefix.is_empty() {
            format!("{env}/{file}")
        } else {
            format!("{}/{env}/{file}", self.prefix)
        }
    }

    /// The folder of env `env`'s backups: `PREFIX/ENV/`.
    pub fn env_prefix(&self, env: &str) -> String {
        self.key(env, "")
    }

    /// The key of a stored backup from its `s3://bucket/KEY` (`None`: another bucket).
    pub fn key_of(&self, url: &str) -> Option<String> {
        url.strip_prefix(&format!("s3://{}/", self.bucket))
            .map(str::to_string)
    }

    /// `s3://bucket/KEY`, as the catalog and messages show a stored backup.
    pub fn object_url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

/// The manifest beside a backup in the store: `KEY.manifest.json`.
pub fn manifest_key(key: &str) -> String {
    format!("{key}.manifest.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_bucket_and_a_prefix() {
        assert_eq!(
            parse_url("s3://pm-backups/shop/prod/").unwrap(),
            ("pm-backups".into(), "shop/prod".into())
        );
        assert_eq!(
            parse_url("s3://pm-backups").unwrap(),
            ("pm-backups".into(), "".into())
        );
        for bad in [
            "pm-backups",
            "https://pm-backups",
            "s3://ab",
            "s3://Upper",
            "s3://-x-/a",
            "s3://bucket/a/../b",
            "s3://bucket/a//b",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn plain_http_needs_saying_so() {
        assert!(check_endpoint("https://s3.example.com", false).is_ok());
        let e = check_endpoint("http://127.0.0.1:9000", false).unwrap_err();
        assert!(e.contains("allow-http = true"), "{e}");
        assert!(check_endpoint("http://127.0.0.1:9000", true).is_ok());
        assert!(check_endpoint("ftp://x", true).is_err());
    }

    #[test]
    fn keys_put_each_env_in_its_own_folder() {
        let c = StoreConfig {
            url: "s3://b-1/shop".into(),
            bucket: "b-1".into(),
            prefix: "shop".into(),
            endpoint: None,
            region: "us-east-1".into(),
            access_key_id: SecretSource {
                env: Some("A".into()),
                file: None,
            },
            secret_access_key: SecretSource {
                env: Some("B".into()),
                file: None,
            },
            session_token: None,
            allow_http: false,
            keep_local: false,
            part_size: 1 << 20,
        };
        assert_eq!(c.key("prod", "x.dump"), "shop/prod/x.dump");
        assert_eq!(c.env_prefix("prod"), "shop/prod/");
        assert_eq!(
            c.object_url("shop/prod/x.dump"),
            "s3://b-1/shop/prod/x.dump"
        );
        assert_eq!(
            c.key_of("s3://b-1/shop/prod/x.dump").unwrap(),
            "shop/prod/x.dump"
        );
        assert_eq!(c.key_of("s3://b-2/shop/prod/x.dump"), None);
        assert_eq!(
            manifest_key("shop/prod/x.dump"),
            "shop/prod/x.dump.manifest.json"
        );
    }
}
