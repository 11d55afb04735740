package agent

import (
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/rigd/rigd/agent/proc"
	"github.com/rigd/rigd/router"
)

func p2pCommands() []*command {
	return []*command{
		{name: "node", summary: "show this node's P2P identity", run: runNode},
		{
			name:    "peers",
			summary: "pair with and manage other rigs",
			subs: []*command{
				{name: "list", summary: "list paired peers", run: runPeersList},
				{name: "invite", summary: "create a single-use invite for another rig", run: runPeersInvite},
				{name: "add", args: "ADDRESS --invite CODE", summary: "pair with a rig by its address and invite", run: runPeersAdd},
				{name: "pending", summary: "list unknown rigs that tried to connect", run: runPeersPending},
				{name: "approve", args: "ID --role ROLE", summary: "pair with a pending rig", run: runPeersApprove},
				{name: "remove", args: "ID", summary: "remove a peer (its sessions close)", run: runPeersRemove},
				{name: "ping", args: "ID", summary: "ping a peer", run: runPeersPing},
			},
		},
		{
			name:    "remote",
			summary: "see and control the miners of paired rigs",
			subs: []*command{
				{name: "stats", args: "[PEER]", summary: "miners of every connected peer, or of one", run: runRemoteStats},
				{name: "start", args: "PEER", summary: "start a miner on a peer", run: runRemoteStart},
				{name: "stop", args: "PEER NAME", summary: "stop a miner on a peer", run: runRemoteStop},
				{name: "logs", args: "PEER MINER", summary: "a peer's miner's latest output lines", run: runRemoteLogs},
			},
		},
	}
}

// simple parses a client command with exactly n arguments.
func simple(c *cli, args []string, n int, what, summary string, extra func(fs *flag.FlagSet) []*string) (*conn, []string, []*string, error) {
	fs := c.flags(&command{args: what, summary: summary})
	cf := addClientFlags(fs)
	var vals []*string
	if extra != nil {
		vals = extra(fs)
	}
	args, err := c.parse(fs, args)
	if err != nil {
		return nil, nil, nil, err
	}
	if n >= 0 {
		if err := exactArgs(args, n, orDash(what)); err != nil {
			return nil, nil, nil, err
		}
	}
	k, err := cf.connect()
	if err != nil {
		return nil, nil, nil, err
	}
	return k, args, vals, nil
}

func runNode(c *cli, args []string) error {
	k, _, _, err := simple(c, args, 0, "", "Show this node's P2P identity: its node id (compare the short form with what other rigs show), name, role and listen address.", nil)
	if err != nil {
		return err
	}
	ctx, cancel := k.ctx(c)
	defer cancel()
	n, err := k.Node(ctx)
	if err != nil {
		return k.explain(err)
	}
	return k.out(c, n, func() error {
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "node id\t%s\nshort id\t%s\nname\t%s\nrole\t%s\nlisten\t%s\npeers\t%d (%d connected)\n", n.NodeID, n.ShortID, n.Name, n.Role, orDash(n.Listen), n.Peers, n.Connected)
		return tw.Flush()
	})
}

func runPeersList(c *cli, args []string) error {
	k, _, _, err := simple(c, args, 0, "", "List the paired peers.", nil)
	if err != nil {
		return err
	}
	ctx, cancel := k.ctx(c)
	defer cancel()
	list, err := k.Peers(ctx)
	if err != nil {
		return k.explain(err)
	}
	return k.out(c, list, func() error {
		if len(list) == 0 {
			fmt.Fprintln(c.stdout, "no peers (pair with: rigd peers invite, then rigd peers add on the other rig)")
			return nil
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tADDRESS\tROLE\tCONNECTED\tRTT\tLAST SEEN")
		for _, p := range list {
			rtt, seen := "-", "-"
			if p.RTTMS != nil {
				rtt = fmt.Sprintf("%.1f ms", *p.RTTMS)
			}
			if p.LastSeen != nil {
				seen = p.LastSeen.Local().Format(time.DateTime)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%s\t%s\n", p.ID, termSafe(orDash(p.Name)), orDash(p.Address), p.Role, p.Connected, rtt, seen)
		}
		return tw.Flush()
	})
}

func runPeersInvite(c *cli, args []string) error {
	k, _, v, err := simple(c, args, 0, "", "Create a single-use invite (valid 10 minutes) for another rig to redeem with\n  rigd peers add THIS_ADDRESS --invite CODE",
		func(fs *flag.FlagSet) []*string {
			return []*string{fs.String("role", "observer", "role the other rig gets here: observer or controller")}
		})
	if err != nil {
		return err
	}
	ctx, cancel := k.ctx(c)
	defer cancel()
	inv, err := k.Invite(ctx, router.InviteRequest{Role: *v[0]})
	if err != nil {
		return k.explain(err)
	}
	return k.out(c, inv, func() error {
		fmt.Fprintf(c.stdout, "invite %s (role %s, expires %s)\non the other rig run:\n  rigd peers add %s --invite %s\n", inv.Invite, inv.Role, inv.ExpiresAt.Local().Format(time.TimeOnly), orDash(inv.Address), inv.Invite)
		return nil
	})
}

func runPeersAdd(c *cli, args []string) error {
	k, args, v, err := simple(c, args, 1, "ADDRESS", "Pair with the rig at ADDRESS (HOST:PORT of its P2P listener) using the invite it printed.",
		func(fs *flag.FlagSet) []*string {
			return []*string{fs.String("invite", "", "the invite CODE from rigd peers invite on the other rig")}
		})
	if err != nil {
		return err
	}
	if *v[0] == "" {
		return usagef("--invite is required")
	}
	ctx, cancel := k.ctx(c)
	defer cancel()
	p, err := k.AddPeer(ctx, router.AddPeerRequest{Address: args[0], Invite: *v[0]})
	if err != nil {
		return k.explain(err)
	}
	return k.out(c, p, func() error {
		if p.Pending {
			fmt.Fprintf(c.stdout, "added %s; waiting for it to approve this rig (there: rigd peers pending, rigd peers approve ID --role ROLE)\n", p.ID)
			return nil
		}
		fmt.Fprintf(c.stdout, "paired with %s (%s); its role on this rig: %s\n", p.ID, orDash(p.Name), p.Role)
		return nil
	})
}

func runPeersPending(c *cli, args []string) error {
	k, _, _, err := simple(c, args, 0, "", "List unknown rigs that tried to connect (approve one with rigd peers approve ID --role ROLE).", nil)
	if err != nil {
		return err
	}
	ctx, cancel := k.ctx(c)
	defer cancel()
	list, err := k.PendingPeers(ctx)
	if err != nil {
		return k.explain(err)
	}
	return k.out(c, list, func() error {
		if len(list) == 0 {
			fmt.Fprintln(c.stdout, "no pending rigs")
			return nil
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tADDRESS\tATTEMPTS\tFIRST SEEN\tLAST SEEN")
		for _, p := range list {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", p.ID, p.Address, p.Count, p.FirstSeen.Local().Format(time.DateTime), p.LastSeen.Local().Format(time.DateTime))
		}
		return tw.Flush()
	})
}

func runPeersApprove(c *cli, args []string) error {
	k, args, v, err := simple(c, args, 1, "ID", "Pair with a pending rig, giving it a role here: observer (stats, logs) or controller (also start/stop).",
		func(fs *flag.FlagSet) []*string {
			return []*string{fs.String("role", "", "observer or controller")}
		})
	if err != nil {
		return err
	}
	if *v[0] == "" {
		return usagef("--role is required")
	}
	ctx, cancel := k.ctx(c)
	defer cancel()
	p, err := k.ApprovePeer(ctx, args[0], router.ApproveRequest{Role: *v[0]})
	if err != nil {
		return k.explain(err)
	}
	return k.out(c, p, func() error {
		fmt.Fprintf(c.stdout, "approved %s as %s\n", p.ID, p.Role)
		return nil
	})
}

func runPeersRemove(c *cli, args []string) error {
	k, args, _, err := simple(c, args, 1, "ID", "Remove a peer: it is forgotten and its live sessions close.", nil)
	if err != nil {
		return err
	}
	ctx, cancel := k.ctx(c)
	defer cancel()
	if err := k.RemovePeer(ctx, args[0]); err != nil {
		return k.explain(err)
	}
	return k.out(c, router.Deleted{Deleted: args[0]}, func() error {
		fmt.Fprintf(c.stdout, "removed peer %s\n", args[0])
		return nil
	})
}

func runPeersPing(c *cli, args []string) error {
	k, args, _, err := simple(c, args, 1, "ID", "Ping a peer over its session and print the round trip.", nil)
	if err != nil {
		return err
	}
	ctx, cancel := k.ctx(c)
	defer cancel()
	res, err := k.PingPeer(ctx, args[0])
	if err != nil {
		return k.explain(err)
	}
	return k.out(c, res, func() error {
		fmt.Fprintf(c.stdout, "%s: %.2f ms\n", res.ID, res.RTTMS)
		return nil
	})
}

func runRemoteStats(c *cli, args []string) error {
	k, args, _, err := simple(c, args, -1, "[PEER]", "Show the miners of every connected peer (asked in parallel; peers that fail are marked), or of one.", nil)
	if err != nil {
		return err
	}
	if len(args) > 1 {
		return usagef("want at most one PEER")
	}
	peer := ""
	if len(args) == 1 {
		peer = args[0]
	}
	ctx, cancel := k.ctx(c)
	defer cancel()
	nodes, err := k.RemoteStats(ctx, peer)
	if err != nil {
		return k.explain(err)
	}
	return k.out(c, nodes, func() error {
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PEER\tMINER\tTYPE\tSTATE\tHASHRATE\tACCEPTED\tREJECTED")
		for _, n := range nodes {
			name := termSafe(orDash(n.Name))
			if !n.OK {
				fmt.Fprintf(tw, "%s\t-\t-\terror: %s\t-\t-\t-\n", name, termSafe(n.Error))
				continue
			}
			if len(n.Miners) == 0 {
				fmt.Fprintf(tw, "%s\t-\t-\tno miners\t-\t-\t-\n", name)
			}
			for _, m := range n.Miners {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, termSafe(m.Name), termSafe(m.Type), termSafe(string(m.State)),
					fmtHashrate(m.Stats.HashrateHS), fmtInt(m.Stats.Accepted), fmtInt(m.Stats.Rejected))
			}
		}
		return tw.Flush()
	})
}

func runRemoteStart(c *cli, args []string) error {
	fs := c.flags(&command{args: "PEER", summary: "Start a miner on a peer: --profile-id of a profile stored there, or --type with profile flags\n(checked by the peer's adapter)."})
	cf := addClientFlags(fs)
	profileID := fs.String("profile-id", "", "a profile stored on the peer")
	typ := fs.String("type", "", "miner type")
	name := fs.String("name", "", "instance name")
	pf := addProfileFlags(fs)
	args, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if err := exactArgs(args, 1, "PEER"); err != nil {
		return err
	}
	req := router.RemoteStartRequest{ProfileID: *profileID, Type: *typ, Name: *name}
	switch {
	case *profileID != "" && *typ != "":
		return usagef("give --profile-id or --type, not both")
	case *profileID == "" && *typ == "":
		return usagef("give --profile-id or --type")
	case *typ != "":
		p, err := pf.profile()
		if err != nil {
			return err
		}
		req.Profile = &p
	}
	k, err := cf.connect()
	if err != nil {
		return err
	}
	ctx, cancel := cf.ctx(c)
	defer cancel()
	m, err := k.RemoteStart(ctx, args[0], req)
	if err != nil {
		return k.explain(err)
	}
	return k.out(c, m, func() error {
		fmt.Fprintf(c.stdout, "started %s on %s: %s\n", termSafe(m.Name), args[0], termSafe(string(m.State)))
		return nil
	})
}

func runRemoteStop(c *cli, args []string) error {
	k, args, _, err := simple(c, args, 2, "PEER NAME", "Stop a miner on a peer.", nil)
	if err != nil {
		return err
	}
	ctx, cancel := k.ctx(c)
	defer cancel()
	m, err := k.RemoteStop(ctx, args[0], args[1])
	if err != nil {
		return k.explain(err)
	}
	return k.out(c, m, func() error {
		fmt.Fprintf(c.stdout, "stopped %s on %s\n", termSafe(m.Name), args[0])
		return nil
	})
}

func runRemoteLogs(c *cli, args []string) error {
	k, args, v, err := simple(c, args, 2, "PEER MINER", "Print the latest output lines of a peer's miner, escape sequences and control characters\nremoved (a peer's bytes never reach the terminal raw; --json keeps them, escaped).",
		func(fs *flag.FlagSet) []*string {
			return []*string{fs.String("lines", "100", "number of latest lines (1-10000)")}
		})
	if err != nil {
		return err
	}
	var n int
	if _, err := fmt.Sscan(*v[0], &n); err != nil || n < 1 {
		return usagef("--lines %q: want a number from 1 to 10000", *v[0])
	}
	ctx, cancel := k.ctx(c)
	defer cancel()
	lines, err := k.RemoteLogs(ctx, args[0], args[1], n)
	if err != nil {
		return k.explain(err)
	}
	return k.out(c, lines, func() error {
		for _, l := range lines {
			fmt.Fprintln(c.stdout, termSafe(string(proc.StripANSI([]byte(l.Text)))))
		}
		return nil
	})
}

// termSafe makes text that came from another node printable on a
// terminal: control characters (escape sequences start with one) become
// U+FFFD, tabs stay. A peer could otherwise set the title, clear the
// screen or write the clipboard of whoever reads its stats.
func termSafe(s string) string {
	unsafe := func(r rune) bool { return r < 0x20 && r != '\t' || r >= 0x7f && r <= 0x9f }
	if strings.IndexFunc(s, unsafe) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unsafe(r) {
			return utf8.RuneError
		}
		return r
	}, s)
}
