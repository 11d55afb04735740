package agent

// root is the command tree.
func root() *command {
	subs := []*command{serveCommand()}
	subs = append(subs, minerCommands()...)
	subs = append(subs, profilesCommand(), historyCommand())
	subs = append(subs, installCommands()...)
	subs = append(subs, p2pCommands()...)
	adapters := adaptersCommand()
	adapters.subs = append(adapters.subs, adaptersRemoteCommands()...)
	adapters.summary = "list, validate, test, replay and scaffold adapters here; add, remove and roll them back on the agent"
	subs = append(subs, adapters)
	subs = append(subs, miscCommands()...)
	return &command{
		name: "rigd",
		summary: "rigd supervises mining rigs: it runs miners, keeps their history and serves a REST API.\n" +
			"Client commands talk to the running agent (--agent / RIGD_AGENT, else DATA_DIR/agent.addr,\n" +
			"else 127.0.0.1:9090) with the token in DATA_DIR/api.token; every one takes --json and --help.",
		subs: subs,
	}
}
