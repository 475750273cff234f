// Package reacher is the Reacher-compatibility suite: it replays what a
// Reacher client sends (every documented request field, the v0 and v1
// check and bulk routes, JSON and CSV results, a wrong secret, bad JSON)
// against `mailprobe serve` over real HTTP and against the API Lambda
// function under the Lambda RIE, and checks the answers field by field
// against Reacher's schema, written down in schema_test.go from Reacher's
// source. The tests are the package; this file only documents it.
package reacher
