// Package agenttest holds test infrastructure shared by the agent's
// packages: fakes of the ports agent/miner declares, a fake-miner program
// (a re-exec of the test binary), a loopback Monero stratum pool, and a
// fetcher for the real XMRig binary used by Integration tests.
//
// Nothing here is imported by non-test code.
package agenttest
