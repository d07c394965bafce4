// types.ts - what a lab is (DESIGN §7), shared by its topology and its
// persistent state without either importing the other.

export interface LabContainer {
  /** ip netns name */
  name: string;
  /** /run/netns/<name> */
  path: string;
  dev: 'eth0';
  ip4: string;
  ip6: string;
}

export interface Lab {
  id: string;
  host: {
    name: string;
    path: string;
    /** bridge device (like docker0) */
    bridge: string;
    /** uplink veth to the target: the outer device */
    uplink: string;
    /** bridge address = the containers' gateway */
    ip4: string;
    ip6: string;
    /** address of the uplink (what the target sees after NAT) */
    uplinkIp4: string;
    uplinkIp6: string;
  };
  containers: LabContainer[];
  target: { name: string; path: string; dev: string; ip4: string; ip6: string };
  /** process owning the lab; 0 = persistent */
  ownerPid: number;
  /** owner's start time (/proc/PID/stat field 22), guards against pid reuse */
  ownerStartTime?: number;
  /** per-lab subnet number <n> */
  subnet: number;
  createdAt: string;
}

