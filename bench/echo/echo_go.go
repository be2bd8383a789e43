// echo_go PORT - Go echo server for bench/echo: a goroutine per connection,
// an io.Copy-style loop (Read into a 32 KiB buffer, Write it back; not
// io.Copy itself, which may splice).  SIGTERM or SIGINT: exit 0.
package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
)

func handle(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 32768)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: echo_go PORT")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:"+os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sig; os.Exit(0) }()
	for {
		c, err := ln.Accept()
		if err != nil {
			continue
		}
		go handle(c)
	}
}
