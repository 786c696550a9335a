//! Backups off the runner: an S3-compatible object store per environment
//! (`[env.NAME.backup-store]`). The host streams each backup into the store as a multipart
//! upload (hashing the bytes as they pass, never holding a whole dump in memory), reads the
//! object back to check that the store holds exactly the bytes it measured, and writes a
//! manifest beside it: the catalog entry, so `backups list`, `backups verify` and retention work
//! from any machine with the same config. Credentials are secrets: resolved from the
//! environment or files, registered with the redactor, never put on an argv.
//!
//! `config.rs` is the part free of the client.

pub use platform_migrate_config::store_config as config;

use crate::catalog;
use crate::secrets::{self, Redactor};
use config::StoreConfig;
use futures::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, RetryConfig, WriteMultipart};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::time::Duration;

/// Parts uploaded at once; memory in flight is at most this many parts.
const MAX_PARTS_IN_FLIGHT: usize = 4;

/// Why a store operation failed. Messages name the store and what to fix, never a credential.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("backup store {url}: {source}; set the credential in env.{env}.backup-store")]
    Credentials {
        url: String,
        env: String,
        source: secrets::SecretError,
    },
    #[error("backup store {url}: cannot {what}: {why}")]
    Failed {
        url: String,
        what: String,
        why: String,
    },
    #[error("backup store {url}: {key} holds {found_size} bytes with sha256 {found_sha}, not the {size} bytes with sha256 {sha} the host wrote; the stored copy is not trusted")]
    Mismatch {
        url: String,
        key: String,
        size: u64,
        sha: String,
        found_size: u64,
        found_sha: String,
    },
}

/// A connected store.
pub struct Store {
    pub cfg: StoreConfig,
    client: AmazonS3,
    rt: tokio::runtime::Runtime,
    redactor: Redactor,
}

impl Store {
    /// Resolve the credentials (registered with the redactor) and build the client. Nothing
    /// is sent yet.
    pub fn open(cfg: &StoreConfig, env: &str, redactor: &Redactor) -> Result<Store, StoreError> {
        let secret = |name: &str, source| {
            secrets::resolve(name, source, redactor).map_err(|source| StoreError::Credentials {
                url: cfg.url.clone(),
                env: env.to_string(),
                source,
            })
        };
        let key_id = secret("access-key-id", &cfg.access_key_id)?;
        let key = secret("secret-access-key", &cfg.secret_access_key)?;
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(&cfg.bucket)
            .with_region(&cfg.region)
            .with_access_key_id(key_id)
            .with_secret_access_key(key)
            .with_allow_http(cfg.allow_http)
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(30),
                ..RetryConfig::default()
            });
        if let Some(t) = &cfg.session_token {
            b = b.with_token(secret("session-token", t)?);
        }
        if let Some(e) = &cfg.endpoint {
            // S3-compatible services are addressed by path (`ENDPOINT/BUCKET/KEY`).
            b = b.with_endpoint(e).with_virtual_hosted_style_request(false);
        }
        let fail = |why: String| StoreError::Failed {
            url: cfg.url.clone(),
            what: "set up the client".into(),
            why,
        };
        let client = b.build().map_err(|e| fail(e.to_string()))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| fail(e.to_string()))?;
        Ok(Store {
            cfg: cfg.clone(),
            client,
            rt,
            redactor: redactor.clone(),
        })
    }

    fn failed(&self, what: impl Into<String>, e: impl std::fmt::Display) -> StoreError {
        StoreError::Failed {
            url: self.cfg.url.clone(),
            what: what.into(),
            why: self.redactor.redact(&e.to_string()),
        }
    }

    /// List one key under `env`'s folder: fails when the store cannot be reached or the
    /// credentials are wrong, before anything is written.
    pub fn check_access(&self, env: &str) -> Result<(), StoreError> {
        let prefix = Key::from(self.cfg.env_prefix(env));
        let first = self
            .rt
            .block_on(async { self.client.list(Some(&prefix)).next().await });
        match first {
            Some(Err(e)) => Err(self.failed(format!("list {}", self.cfg.url), e)),
            _ => Ok(()),
        }
    }

    /// Start a multipart upload to `key`; bytes go up in parts as they are written.
    pub fn begin_upload(&self, key: &str) -> Result<Uploader<'_>, StoreError> {
        let _rt = self.rt.enter();
        let location = Key::from(key);
        let upload = self
            .rt
            .block_on(self.client.put_multipart(&location))
            .map_err(|e| self.failed(format!("upload {}", self.cfg.object_url(key)), e))?;
        Ok(Uploader {
            store: self,
            key: key.to_string(),
            w: Some(WriteMultipart::new_with_chunk_size(
                upload,
                self.cfg.part_size,
            )),
            hasher: Sha256::new(),
            size: 0,
        })
    }

    /// Whether an object exists under `key`.
    pub fn exists(&self, key: &str) -> Result<bool, StoreError> {
        match self.rt.block_on(self.client.head(&Key::from(key))) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.failed(format!("look up {}", self.cfg.object_url(key)), e)),
        }
    }

    /// Stream the object at `key` into `out`, hashing it; returns its size and sha256.
    pub fn copy_to(
        &self,
        key: &str,
        out: &mut impl std::io::Write,
    ) -> Result<(u64, String), StoreError> {
        let location = Key::from(key);
        let what = || format!("read {}", self.cfg.object_url(key));
        self.rt.block_on(async {
            let got = self
                .client
                .get(&location)
                .await
                .map_err(|e| self.failed(what(), e))?;
            let mut stream = got.into_stream();
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| self.failed(what(), e))?;
                hasher.update(&chunk);
                size += chunk.len() as u64;
                out.write_all(&chunk).map_err(|e| self.failed(what(), e))?;
            }
            Ok((size, hex::encode(hasher.finalize())))
        })
    }

    /// Size and sha256 of what the store holds under `key`, read back in a stream.
    pub fn measure(&self, key: &str) -> Result<(u64, String), StoreError> {
        self.copy_to(key, &mut std::io::sink())
    }

    /// Copy the object at `key` into the new file `path` (never over an existing one), hashing
    /// the bytes as they come; returns their size and sha256. A failed copy is removed.
    pub fn download(&self, key: &str, path: &std::path::Path) -> Result<(u64, String), StoreError> {
        let what = || format!("copy {} to {}", self.cfg.object_url(key), path.display());
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| self.failed(what(), e))?;
        let result = self.copy_to(key, &mut file).and_then(|r| {
            file.sync_all()
                .map(|()| r)
                .map_err(|e| self.failed(what(), e))
        });
        if result.is_err() {
            let _ = std::fs::remove_file(path);
        }
        result
    }

    /// Check that `key` holds exactly `size` bytes with `sha256`.
    pub fn check(&self, key: &str, size: u64, sha256: &str) -> Result<(), StoreError> {
        let found = self.measure(key)?;
        self.same(key, size, sha256, found)
    }

    /// `found` (size, sha256) is what was recorded, or the store's copy is not trusted.
    pub fn same(
        &self,
        key: &str,
        size: u64,
        sha256: &str,
        (found_size, found_sha): (u64, String),
    ) -> Result<(), StoreError> {
        if found_size != size || found_sha != sha256 {
            return Err(StoreError::Mismatch {
                url: self.cfg.url.clone(),
                key: key.to_string(),
                size,
                sha: sha256.to_string(),
                found_size,
                found_sha,
            });
        }
        Ok(())
    }

    /// Write the manifest beside the backup at `key`: its catalog entry.
    pub fn put_manifest(&self, key: &str, entry: &catalog::Backup) -> Result<(), StoreError> {
        let body =
            serde_json::to_vec_pretty(entry).map_err(|e| self.failed("write a manifest", e))?;
        let location = Key::from(config::manifest_key(key));
        self.rt
            .block_on(self.client.put(&location, PutPayload::from(body)))
            .map_err(|e| {
                self.failed(
                    format!("write {}", self.cfg.object_url(location.as_ref())),
                    e,
                )
            })?;
        Ok(())
    }

    /// Every backup of `env` whose manifest is in the store, oldest first. An object without a
    /// manifest (an upload that never completed its checks) is not a backup.
    pub fn manifests(&self, env: &str) -> Result<Vec<catalog::Backup>, StoreError> {
        self.manifests_under(&self.cfg.env_prefix(env), &|_| true, &|e| e == env)
    }

    /// Every backup of fleet env `env`'s targets (each in its folder `ENV@TARGET/`), and of the
    /// env itself, oldest first.
    pub fn fleet_manifests(&self, env: &str) -> Result<Vec<catalog::Backup>, StoreError> {
        let ours = |e: &str| crate::config::within(e, env);
        // Listed from the store's prefix (a path prefix `prod` never matches `prod@t1/`), and
        // only the manifests in the env's folders read.
        let root = self.cfg.key("", "");
        let root = root.trim_matches('/').to_string();
        let folder_is_ours = |key: &str| {
            let rest = if root.is_empty() {
                Some(key)
            } else {
                key.strip_prefix(root.as_str())
                    .and_then(|r| r.strip_prefix('/'))
            };
            rest.and_then(|r| r.split_once('/'))
                .is_some_and(|(folder, _)| ours(folder))
        };
        self.manifests_under(&root, &folder_is_ours, &ours)
    }

    /// The manifests under `prefix` whose key `keep` takes, of the backups whose env `ours`
    /// takes.
    fn manifests_under(
        &self,
        prefix: &str,
        keep: &dyn Fn(&str) -> bool,
        ours: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<catalog::Backup>, StoreError> {
        let prefix = Key::from(prefix);
        let what = format!("list {}", self.cfg.object_url(prefix.as_ref()));
        self.rt.block_on(async {
            let mut keys = Vec::new();
            let mut list = self.client.list(Some(&prefix));
            while let Some(meta) = list.next().await {
                let meta = meta.map_err(|e| self.failed(what.clone(), e))?;
                if meta.location.as_ref().ends_with(".manifest.json")
                    && keep(meta.location.as_ref())
                {
                    keys.push(meta.location);
                }
            }
            let mut out = Vec::new();
            for k in keys {
                let bytes = self
                    .client
                    .get(&k)
                    .await
                    .map_err(|e| self.failed(format!("read {k}"), e))?
                    .bytes()
                    .await
                    .map_err(|e| self.failed(format!("read {k}"), e))?;
                match serde_json::from_slice::<catalog::Backup>(&bytes) {
                    Ok(b) if ours(&b.env) => out.push(b),
                    Ok(_) => tracing::warn!("manifest {k} is of another env; skipped"),
                    Err(e) => tracing::warn!("manifest {k} is unreadable ({e}); skipped"),
                }
            }
            out.sort_by(|a, b| a.created.cmp(&b.created));
            Ok(out)
        })
    }

    /// Delete a backup and its manifest (the manifest first: a backup is never listed without
    /// its object).
    pub fn delete(&self, key: &str) -> Result<(), StoreError> {
        let manifest = Key::from(config::manifest_key(key));
        let object = Key::from(key);
        self.rt.block_on(async {
            self.client
                .delete(&manifest)
                .await
                .map_err(|e| self.failed(format!("delete {manifest}"), e))?;
            self.client
                .delete(&object)
                .await
                .map_err(|e| self.failed(format!("delete {object}"), e))
        })
    }
}

/// A multipart upload in progress: bytes are hashed and sent in parts as they are written.
/// Dropped without `finish`, it is aborted (no object appears).
pub struct Uploader<'a> {
    store: &'a Store,
    key: String,
    w: Option<WriteMultipart>,
    hasher: Sha256,
    size: u64,
}

impl Uploader<'_> {
    /// Send everything `reader` yields, up to its end. On a failure (reading or sending) the
    /// upload is aborted.
    pub fn feed(&mut self, mut reader: impl Read) -> Result<(), StoreError> {
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let what = format!("upload {}", self.store.cfg.object_url(&self.key));
                    self.abort_now();
                    return Err(self.store.failed(what, format!("reading the backup: {e}")));
                }
            };
            self.write(&buf[..n])?;
        }
    }

    pub fn write(&mut self, buf: &[u8]) -> Result<(), StoreError> {
        let store = self.store;
        let _rt = store.rt.enter();
        let Some(w) = self.w.as_mut() else {
            return Ok(());
        };
        if let Err(e) = store.rt.block_on(w.wait_for_capacity(MAX_PARTS_IN_FLIGHT)) {
            let what = format!("upload {}", store.cfg.object_url(&self.key));
            self.abort_now();
            return Err(store.failed(what, e));
        }
        self.hasher.update(buf);
        self.size += buf.len() as u64;
        w.write(buf);
        Ok(())
    }

    /// The size and sha256 of what was written so far (before the object exists).
    pub fn so_far(&self) -> (u64, String) {
        (self.size, hex::encode(self.hasher.clone().finalize()))
    }

    /// Complete the upload; returns the size and sha256 of what was written.
    pub fn finish(mut self) -> Result<(u64, String), StoreError> {
        let store = self.store;
        let what = format!("upload {}", store.cfg.object_url(&self.key));
        let Some(w) = self.w.take() else {
            return Err(store.failed(what, "the upload was aborted"));
        };
        let _rt = store.rt.enter();
        store
            .rt
            .block_on(w.finish())
            .map_err(|e| store.failed(what, e))?;
        let hasher = std::mem::take(&mut self.hasher);
        Ok((self.size, hex::encode(hasher.finalize())))
    }

    /// Abandon the upload: the parts sent so far are discarded by the store.
    pub fn abort(mut self) {
        self.abort_now();
    }

    fn abort_now(&mut self) {
        if let Some(w) = self.w.take() {
            let _rt = self.store.rt.enter();
            let _ = self.store.rt.block_on(w.abort());
        }
    }
}

impl Drop for Uploader<'_> {
    fn drop(&mut self) {
        self.abort_now();
    }
}
