// tcp_echo: an echo server on 127.0.0.1, one goroutine per connection,
// each reading into a 4 KiB buffer and writing back what it read (Go sets
// TCP_NODELAY by default). The harness drives the load and measures.
// Counterparts: compare/src/cases/tcp_echo.rs.
package main

import "net"

func tcpEcho(int) {
	exitWhenStdinCloses()
	listener := listenLoopback()
	for {
		connection, err := listener.Accept()
		if err != nil {
			panic(err)
		}
		go func(connection net.Conn) {
			defer connection.Close()
			buffer := make([]byte, 4096)
			for {
				read, err := connection.Read(buffer)
				if err != nil {
					return
				}
				if _, err := connection.Write(buffer[:read]); err != nil {
					return
				}
			}
		}(connection)
	}
}
