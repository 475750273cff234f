package samtemplate

import (
	"path/filepath"
	"testing"
)

func TestWildcard(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"arn:aws:s3:::b/*", "arn:aws:s3:::b/exports/1.csv", true},
		{"arn:aws:s3:::b/*", "arn:aws:s3:::bb/x", false},
		{"arn:aws:secretsmanager:r:a:secret:name-??????", "arn:aws:secretsmanager:r:a:secret:name-AbCdEf", true},
		{"arn:aws:secretsmanager:r:a:secret:name-??????", "arn:aws:secretsmanager:r:a:secret:name-other-AbCdEf", false},
		{"arn:aws:logs:r:a:log-group:/g:*", "arn:aws:logs:r:a:log-group:/g:log-stream:x", true},
		{"*", "", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
	}
	for _, tt := range tests {
		if got := wildcard(tt.pattern, tt.s); got != tt.want {
			t.Errorf("wildcard(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestFunctionRole(t *testing.T) {
	tpl := `
Parameters:
  Secret: {Type: String}
Conditions:
  InSsm: !Equals [!Select [0, !Split ["|ssm:", !Join ["", ["|", !Ref Secret]]]], ""]
Resources:
  Table: {Type: AWS::DynamoDB::Table}
  Role:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement:
              - {Effect: Allow, Action: [dynamodb:GetItem, "dynamodb:Put*"], Resource: !GetAtt Table.Arn}
              - {Effect: Deny, Action: dynamodb:PutItem, Resource: !Sub "${Table.Arn}/index/*"}
              - !If
                - InSsm
                - Effect: Allow
                  Action: ssm:GetParameter
                  Resource: !Sub
                    - arn:aws:ssm:${AWS::Region}:${AWS::AccountId}:parameter${Name}
                    - Name: !Select [1, !Split ["|ssm:", !Join ["", ["|", !Ref Secret, "|ssm:"]]]]
                - !Ref AWS::NoValue
  Extra:
    Type: AWS::IAM::Policy
    Properties:
      Roles: [!Ref Role]
      PolicyName: extra
      PolicyDocument: {Statement: [{Effect: Allow, Action: s3:GetObject, Resource: "arn:aws:s3:::b/*"}]}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Role: !GetAtt Role.Arn
`
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "t.yaml"), tpl)
	table := "arn:aws:dynamodb:us-east-1:000000000000:table/t"
	for _, secret := range []string{"ssm:/a/b", "literal"} {
		d, err := Load(Source{Template: filepath.Join(dir, "t.yaml"), Overrides: map[string]string{"Secret": secret}})
		if err != nil {
			t.Fatal(err)
		}
		r := d.Resolver(Stack{Params: d.Params, Refs: map[string]string{"Table": "t", "Role": "r"},
			Attrs: map[string]string{"Table.Arn": table}})
		role, err := d.FunctionRole("Fn", r)
		if err != nil {
			t.Fatal(err)
		}
		checks := []struct {
			action, resource string
			want             bool
		}{
			{"dynamodb:GetItem", table, true},
			{"DynamoDB:putitem", table, true},
			{"dynamodb:PutItem", table + "/index/gsi1", false}, // denied
			{"dynamodb:Query", table, false},
			{"dynamodb:GetItem", table + "2", false},
			{"s3:GetObject", "arn:aws:s3:::b/x", true},
			{"ssm:GetParameter", "arn:aws:ssm:us-east-1:000000000000:parameter/a/b", secret == "ssm:/a/b"},
		}
		for _, c := range checks {
			if got := role.Allows(c.action, c.resource); got != c.want {
				t.Errorf("secret %s: Allows(%s, %s) = %v, want %v", secret, c.action, c.resource, got, c.want)
			}
		}
	}
}
