// Package loopback hands out 127.0.0.1 ports for tests and benchmarks
// that start brokers on fixed ports and restart them on the same ones.
//
// Asking the kernel for port 0 returns a port from the ephemeral range,
// which every outgoing connection on the machine also draws its local
// port from: between a probe closing such a port and a broker binding it
// (or while a stopped broker is down before its restart), any connection
// may take it, and the bind fails with "address already in use". Ports
// below the ephemeral range are never handed out that way, so Ports picks
// there, at random (parallel test processes pick independently), and
// keeps only ports it could bind.
package loopback

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// lowest is the smallest port Ports hands out: above the well-known and
// most registered service ports.
const lowest = 10000

// defaultEphemeralStart is Linux's default ip_local_port_range start.
const defaultEphemeralStart = 32768

// ephemeralStart is where the kernel's ephemeral ports begin.
func ephemeralStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return defaultEphemeralStart
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return defaultEphemeralStart
	}
	n, err := strconv.Atoi(fields[0])
	if err != nil {
		return defaultEphemeralStart
	}
	return n
}

// Ports returns n distinct free 127.0.0.1 ports outside the ephemeral
// range. Each was bound (and released) just now; all are held until all
// are found, so none repeats. Where the ephemeral range leaves too little
// room below it, it falls back to ports the kernel picks.
func Ports(n int) ([]int, error) {
	hi := ephemeralStart()
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for attempts := 0; len(ports) < n; attempts++ {
		port := 0 // the kernel's pick, when there is no room below the range
		if hi-lowest >= 1000 && attempts < 100*n {
			port = lowest + rand.IntN(hi-lowest)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			if port == 0 {
				return nil, fmt.Errorf("loopback: listen for a free port: %w", err)
			}
			continue // taken: try another
		}
		held = append(held, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Addrs is Ports as "127.0.0.1:port" addresses.
func Addrs(n int) ([]string, error) {
	ports, err := Ports(n)
	if err != nil {
		return nil, err
	}
	addrs := make([]string, len(ports))
	for i, p := range ports {
		addrs[i] = net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
	}
	return addrs, nil
}
