//! A minimal HTTP/1.1 keep-alive client for the load generators: one connection, one request at a
//! time, the whole answer read before the next request (as wrk does). No client library: the
//! benches measure the server, not a client's pooling.

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufStream};

pub struct Connection {
    stream: BufStream<tokio::net::TcpStream>,
    line: String,
}

/// One answer: its status and body.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Connection {
    pub async fn open(addr: std::net::SocketAddr) -> anyhow::Result<Connection> {
        let socket = tokio::net::TcpStream::connect(addr).await?;
        socket.set_nodelay(true)?;
        Ok(Connection {
            stream: BufStream::new(socket),
            line: String::new(),
        })
    }

    /// Sends one request (`headers` as `Name: value` lines, a JSON body when given) and reads the
    /// whole answer.
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> anyhow::Result<Answer> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: bench\r\nAccept: */*\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = body {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        self.stream.write_all(head.as_bytes()).await?;
        if let Some(body) = body {
            self.stream.write_all(body).await?;
        }
        self.stream.flush().await?;
        self.read_answer().await
    }

    async fn read_answer(&mut self) -> anyhow::Result<Answer> {
        self.line.clear();
        self.stream.read_line(&mut self.line).await?;
        let status: u16 = self
            .line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("not an HTTP status line: {:?}", self.line))?;
        let (mut length, mut chunked) = (0usize, false);
        loop {
            self.line.clear();
            if self.stream.read_line(&mut self.line).await? == 0 {
                anyhow::bail!("the server closed the connection");
            }
            let header = self.line.trim_end().to_ascii_lowercase();
            if header.is_empty() {
                break;
            }
            if let Some(v) = header.strip_prefix("content-length:") {
                length = v.trim().parse()?;
            } else if header.starts_with("transfer-encoding:") && header.contains("chunked") {
                chunked = true;
            }
        }
        let mut body = Vec::new();
        if chunked {
            let mut chunk = Vec::new();
            loop {
                self.line.clear();
                self.stream.read_line(&mut self.line).await?;
                let size = usize::from_str_radix(self.line.trim(), 16)?;
                chunk.resize(size + 2, 0);
                self.stream.read_exact(&mut chunk).await?;
                body.extend_from_slice(&chunk[..size]);
                if size == 0 {
                    break;
                }
            }
        } else {
            body.resize(length, 0);
            self.stream.read_exact(&mut body).await?;
        }
        Ok(Answer { status, body })
    }
}
