DESCRIPTION="two hosts, one source port: client2 holds W:40000 towards A1 before natcheck uses 40000"
# sim-recipes §5.2: Linux keeps a source port only while the 5-tuple is free; the second host
# gets a random port towards the same server (RFC 4787 REQ-3 is about this contention).
HOSTS=2
router_rules() { natrule 'oifname "wan" masquerade'; }
before_measure() {
	nslab_exec client2 python3 -c '
import socket, struct, os
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.1.0.3", 40000))
s.settimeout(1)
s.sendto(struct.pack("!HHI", 1, 0, 0x2112A442) + os.urandom(12), ("198.18.1.1", 3478))
s.recv(512)'
}
NATCHECK_ARGS="--port 40000"
VOVIDA_ARGS="-p 40000"
EXPECT="udp.mapping=endpoint-independent udp.port_preservation=false udp.local=10.1.0.2:40000"
