//! A real S3-compatible object store for tests: moto's standalone server (`moto_server`, from
//! `moto[server]` on PyPI, installed into the venv by `just setup`) on 127.0.0.1 and a free
//! port, started per test and stopped on drop. Authentication is on: the first calls create
//! an IAM user with a key pair and a bucket; every later request must be signed with that key,
//! so wrong credentials fail as they would against AWS.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BUCKET: &str = "pm-backups";

pub struct S3 {
    child: Child,
    pub port: u16,
    pub key_id: String,
    pub secret: String,
}

fn moto_server() -> PathBuf {
    let p = super::root().join(".venv/bin/moto_server");
    assert!(
        p.exists(),
        "{} is missing: run the tests with `just test`, which installs moto[server]",
        p.display()
    );
    p
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl S3 {
    pub fn start() -> S3 {
        let port = free_port();
        let child = Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            // The three setup calls below go unauthenticated; everything after is checked.
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "3")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut s3 = S3 {
            child,
            port,
            key_id: String::new(),
            secret: String::new(),
        };
        let out = s3.python(
            r#"
import boto3, json
iam = boto3.client("iam", endpoint_url=URL, region_name="us-east-1",
                   aws_access_key_id="setup", aws_secret_access_key="setup")
iam.create_user(UserName="pm")
iam.put_user_policy(UserName="pm", PolicyName="all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
k = iam.create_access_key(UserName="pm")["AccessKey"]
s3 = boto3.client("s3", endpoint_url=URL, region_name="us-east-1",
                  aws_access_key_id=k["AccessKeyId"], aws_secret_access_key=k["SecretAccessKey"])
s3.create_bucket(Bucket=BUCKET)
print(json.dumps({"id": k["AccessKeyId"], "secret": k["SecretAccessKey"]}))
"#,
        );
        let v: serde_json::Value = serde_json::from_str(out.trim()).expect(&out);
        s3.key_id = v["id"].as_str().unwrap().to_string();
        s3.secret = v["secret"].as_str().unwrap().to_string();
        s3
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Run a boto3 script with `URL`, `BUCKET` and a signed client `s3` (after setup).
    pub fn python(&self, body: &str) -> String {
        let prelude = format!(
            "import boto3, json, sys\nURL = {:?}\nBUCKET = {:?}\nKEY_ID = {:?}\nSECRET = {:?}\n\
             s3 = boto3.client('s3', endpoint_url=URL, region_name='us-east-1', \
             aws_access_key_id=KEY_ID or 'x', aws_secret_access_key=SECRET or 'x')\n",
            self.endpoint(),
            BUCKET,
            self.key_id,
            self.secret
        );
        let out = Command::new(super::python())
            .arg("-c")
            .arg(format!("{prelude}{body}"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "boto3 script failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Every key in the bucket, sorted.
    pub fn keys(&self) -> Vec<String> {
        let out = self.python(
            "r = s3.list_objects_v2(Bucket=BUCKET)\nprint(json.dumps(sorted(o['Key'] for o in r.get('Contents', []))))",
        );
        serde_json::from_str(out.trim()).unwrap()
    }

    /// The bytes stored under `key`.
    pub fn get(&self, key: &str) -> Vec<u8> {
        let out = self.python(&format!(
            "sys.stdout.write(s3.get_object(Bucket=BUCKET, Key={key:?})['Body'].read().hex())"
        ));
        hex::decode(out.trim()).unwrap()
    }

    /// Replace the object under `key` with `bytes` (someone changed it in the store).
    pub fn put(&self, key: &str, bytes: &[u8]) {
        self.python(&format!(
            "s3.put_object(Bucket=BUCKET, Key={key:?}, Body=bytes.fromhex({:?}))",
            hex::encode(bytes)
        ));
    }

    /// The `[env.NAME.backup-store]` table for this server, with credentials read from the
    /// environment variables `id_var` and `secret_var`.
    pub fn store_table(&self, env: &str, prefix: &str, id_var: &str, secret_var: &str) -> String {
        format!(
            r#"
[env.{env}.backup-store]
url = "s3://{BUCKET}/{prefix}"
endpoint = "{}"
allow-http = true
access-key-id = {{ env = "{id_var}" }}
secret-access-key = {{ env = "{secret_var}" }}
part-size-mb = 5
"#,
            self.endpoint()
        )
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
