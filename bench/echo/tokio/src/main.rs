// echo_tokio PORT - Tokio current-thread echo server for bench/echo: a task
// per connection, read into a 16 KiB buffer, write_all back.  SIGTERM or
// SIGINT (default action): exit.
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

fn main() {
    let port: u16 = std::env::args().nth(1).and_then(|s| s.parse().ok()).expect("usage: echo_tokio PORT");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
        let mut term = signal(SignalKind::terminate()).unwrap();
        tokio::spawn(async move {
            loop {
                if let Ok((mut s, _)) = listener.accept().await {
                    let _ = s.set_nodelay(true);
                    tokio::spawn(async move {
                        let mut buf = vec![0u8; 16384];
                        loop {
                            match s.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => {
                                    if s.write_all(&buf[..n]).await.is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                    });
                }
            }
        });
        term.recv().await;
    });
    std::process::exit(0);
}
