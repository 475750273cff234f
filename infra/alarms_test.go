package infra

import (
	"testing"
)

// alarm is what an AWS::CloudWatch::Alarm watches, evaluated.
type alarm struct {
	namespace, metric, dimension, value, stat string
	threshold                                 string
	period                                    string
	actions, okActions                        any
}

// TestAlarms: each function's errors and throttles, the age of the job
// queue's oldest message and the dead-letter queue's depth have an alarm
// that fires within a minute or so (one datapoint of 60 s), and every alarm
// notifies AlarmTopicArn, when given, as it fires and as it clears.
func TestAlarms(t *testing.T) {
	want := map[string]alarm{
		"AWS/Lambda Errors ref-ApiFunction":                                         {stat: "Sum", threshold: "0"},
		"AWS/Lambda Throttles ref-ApiFunction":                                      {stat: "Sum", threshold: "0"},
		"AWS/Lambda Errors ref-SqsWorkerFunction":                                   {stat: "Sum", threshold: "0"},
		"AWS/Lambda Throttles ref-SqsWorkerFunction":                                {stat: "Sum", threshold: "0"},
		"AWS/SQS ApproximateAgeOfOldestMessage attr-JobQueue.QueueName":             {stat: "Maximum", threshold: "900"},
		"AWS/SQS ApproximateNumberOfMessagesVisible attr-DeadLetterQueue.QueueName": {stat: "Maximum", threshold: "0"},
	}
	const topic = "arn:aws:sns:us-east-1:000000000000:ops"
	for _, topicArn := range []string{"", topic} {
		d, r := deployment(t, map[string]string{"AlarmTopicArn": topicArn, "OldestMessageAlarmSeconds": "900"})
		got := map[string]alarm{}
		for _, res := range d.ResourcesOfType("AWS::CloudWatch::Alarm") {
			v, err := r.Value(res.Property())
			if err != nil {
				t.Fatalf("%s: %v", res.ID, err)
			}
			p := v.(map[string]any)
			dims, _ := p["Dimensions"].([]any)
			if len(dims) != 1 {
				t.Errorf("%s: dimensions %v, want one", res.ID, dims)
				continue
			}
			dim := dims[0].(map[string]any)
			a := alarm{namespace: str(p["Namespace"]), metric: str(p["MetricName"]), dimension: str(dim["Name"]),
				value: str(dim["Value"]), stat: str(p["Statistic"]), threshold: str(p["Threshold"]), period: str(p["Period"]),
				actions: p["AlarmActions"], okActions: p["OKActions"]}
			key := a.namespace + " " + a.metric + " " + a.value
			got[key] = a
			if a.period != "60" || str(p["EvaluationPeriods"]) != "1" || str(p["ComparisonOperator"]) != "GreaterThanThreshold" ||
				str(p["TreatMissingData"]) != "notBreaching" {
				t.Errorf("%s: period %s, %v periods, %v, missing data %v; want one 60 s datapoint above the threshold",
					res.ID, a.period, p["EvaluationPeriods"], p["ComparisonOperator"], p["TreatMissingData"])
			}
			var wantActions any
			if topicArn != "" {
				wantActions = []any{topicArn}
			}
			if !equal(a.actions, wantActions) || !equal(a.okActions, wantActions) {
				t.Errorf("AlarmTopicArn=%q: %s notifies %v, clears to %v; want %v", topicArn, res.ID, a.actions, a.okActions, wantActions)
			}
		}
		for key, w := range want {
			a, ok := got[key]
			if !ok {
				t.Errorf("no alarm on %s", key)
				continue
			}
			if a.stat != w.stat || a.threshold != w.threshold {
				t.Errorf("alarm on %s: %s > %s, want %s > %s", key, a.stat, a.threshold, w.stat, w.threshold)
			}
		}
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
