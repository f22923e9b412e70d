//! TLS for `https://` OTLP endpoints (feature `otlp-https`): rustls, with Mozilla's root certificates
//! (webpki-roots), so nothing is read from the system.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::otlp_http::Stream;

fn config() -> Result<Arc<ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
            let config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS: {e}"))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(Arc::new(config))
        })
        .clone()
}

/// Starts TLS with `host` over `tcp`; the handshake happens with the first write.
pub(super) fn connect(tcp: TcpStream, host: &str) -> Result<Box<dyn Stream>, String> {
    let name = ServerName::try_from(host.to_owned()).map_err(|e| format!("TLS: `{host}`: {e}"))?;
    let connection = ClientConnection::new(config()?, name).map_err(|e| format!("TLS: {e}"))?;
    Ok(Box::new(Tls(StreamOwned::new(connection, tcp))))
}

struct Tls(StreamOwned<ClientConnection, TcpStream>);

impl Read for Tls {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Tls {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl Stream for Tls {
    fn set_timeouts(&mut self, timeout: Duration) -> io::Result<()> {
        self.0.sock.set_timeouts(timeout)
    }
}
