// Package agent is rigd's composition root: it parses the command line,
// builds the configuration (flags, environment, defaults), wires the
// packages together for `rigd serve`, and implements the client commands
// that talk to a running agent. It is the only package that imports every
// other one.
package agent
