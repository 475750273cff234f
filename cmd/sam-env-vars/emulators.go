package main

import (
	"fmt"

	"github.com/mailprobe/mailprobe/internal/app"
	"github.com/mailprobe/mailprobe/internal/lambdalocal"
)

// endpointsFrom reads the emulators' endpoints from the environment, as
// scripts/emulators.sh start exports them.
func endpointsFrom(getenv func(string) string) (lambdalocal.Endpoints, error) {
	e := lambdalocal.Endpoints{SQS: getenv(app.EnvSQSEndpoint), DynamoDB: getenv(app.EnvDynamoDBEndpoint), S3: getenv(app.EnvS3Endpoint)}
	if e.SQS == "" || e.DynamoDB == "" {
		return e, fmt.Errorf("-emulators needs %s and %s (./scripts/emulators.sh start && . .emulators/env)",
			app.EnvSQSEndpoint, app.EnvDynamoDBEndpoint)
	}
	return e, nil
}

// pointAt sets the endpoint variables of every function that declares
// them; `sam local invoke` passes only declared variables on.
func pointAt(envs map[string]map[string]string, e lambdalocal.Endpoints) {
	for _, env := range envs {
		for name, url := range map[string]string{app.EnvSQSEndpoint: e.SQS, app.EnvDynamoDBEndpoint: e.DynamoDB,
			app.EnvS3Endpoint: e.S3} {
			if _, ok := env[name]; ok {
				env[name] = url
			}
		}
	}
}
