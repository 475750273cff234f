// Package e2e runs the two Lambda functions as AWS runs them: the built
// bootstrap binaries under the Lambda Runtime Interface Emulator, fed the
// events/*.json files, against the SQS and DynamoDB emulators and real
// DNS, SOCKS5 and SMTP servers on loopback.
package e2e
