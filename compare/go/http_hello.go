// http_hello: an HTTP/1.1 keep-alive server on 127.0.0.1 answering every
// request with a fixed "Hello, World!", one goroutine per connection.
// Requests are parsed by hand (read header lines until the blank one) over
// bufio, like the Rust peers' httparse loop, rather than with net/http,
// which would measure a far bigger library than the runtime. Responses
// are flushed when no further request is already buffered, so pipelined
// requests are answered in one write. Counterparts:
// compare/src/cases/http_hello.rs.
package main

import (
	"bufio"
	"net"
)

// The one response, byte for byte the same as the Rust peers'.
var helloResponse = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!")

func httpHello(int) {
	exitWhenStdinCloses()
	listener := listenLoopback()
	for {
		connection, err := listener.Accept()
		if err != nil {
			panic(err)
		}
		go serveHello(connection)
	}
}

func serveHello(connection net.Conn) {
	defer connection.Close()
	reader := bufio.NewReaderSize(connection, 4096)
	writer := bufio.NewWriterSize(connection, 4096)
	for {
		for {
			// A header line longer than the buffer fails here and closes
			// the connection, as an oversized request does in Rust.
			line, err := reader.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) <= 2 {
				break
			}
		}
		if _, err := writer.Write(helloResponse); err != nil {
			return
		}
		if reader.Buffered() == 0 {
			if err := writer.Flush(); err != nil {
				return
			}
		}
	}
}
