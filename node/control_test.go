package node

import "testing"

// TestControlAddrs: the control listener's default is the raft host with
// the raft port plus 1000 (so the README's three commands need no flag),
// an explicit address wins, and an unspecified bind host is advertised as
// the raft host.
func TestControlAddrs(t *testing.T) {
	voters := map[int32]string{1: "127.0.0.1:7001", 2: "10.0.0.2:7002"}
	for _, tc := range []struct {
		name       string
		cc         ClusterConfig
		id         int32
		bind, host string
		wantErr    bool
	}{
		{name: "derived", cc: ClusterConfig{Voters: voters}, id: 1, bind: "127.0.0.1:8001", host: "127.0.0.1"},
		{name: "derived from the advertised raft address", cc: ClusterConfig{Voters: voters, RaftAdvertiseAddr: "10.0.0.2:7002"}, id: 2, bind: "10.0.0.2:8002", host: "10.0.0.2"},
		{name: "explicit", cc: ClusterConfig{Voters: voters, ControlAddr: "127.0.0.1:0"}, id: 1, bind: "127.0.0.1:0", host: "127.0.0.1"},
		{name: "unspecified host", cc: ClusterConfig{Voters: voters, ControlAddr: "0.0.0.0:9500"}, id: 2, bind: "0.0.0.0:9500", host: "10.0.0.2"},
		{name: "empty host", cc: ClusterConfig{Voters: voters, ControlAddr: ":9500"}, id: 1, bind: ":9500", host: "127.0.0.1"},
		{name: "no room above the raft port", cc: ClusterConfig{Voters: map[int32]string{1: "h:65000"}}, id: 1, wantErr: true},
		{name: "not host:port", cc: ClusterConfig{Voters: voters, ControlAddr: "nonsense"}, id: 1, wantErr: true},
	} {
		bind, host, err := tc.cc.controlAddrs(tc.id)
		if (err != nil) != tc.wantErr || (err == nil && (bind != tc.bind || host != tc.host)) {
			t.Errorf("%s: got %q %q %v, want %q %q error %v", tc.name, bind, host, err, tc.bind, tc.host, tc.wantErr)
		}
	}
}
