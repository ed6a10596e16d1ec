package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"text/tabwriter"

	of "github.com/open-feature/go-sdk/openfeature"
)

// This file is the application: written for LaunchDarkly's OpenFeature
// provider and not changed for redisflags. It knows OpenFeature and the
// context shapes LaunchDarkly's provider reads, nothing else.

// subject is one caller of the application and the context it sends.
type subject struct {
	label string
	ec    of.EvaluationContext
}

// subjects are the contexts the application sends, LaunchDarkly-shaped: a
// single context is the targeting key plus "kind" and attributes; a
// multi-context is kind "multi" with one object per context kind, each
// with its own "key".
func subjects() []subject {
	return []subject{
		{"anonymous visitor", of.NewEvaluationContext("anon-7f3a9c", map[string]any{
			"kind": "user", "anonymous": true,
		})},
		{"free user", of.NewEvaluationContext("user-1001", map[string]any{
			"kind": "user", "name": "Maria", "email": "maria@mail.example", "plan": "free",
		})},
		{"staff, email private", of.NewEvaluationContext("user-2002", map[string]any{
			"kind": "user", "name": "Sam", "email": "sam@redisflags.io", "plan": "pro",
			"privateAttributes": []string{"email"},
		})},
		{"flagged for fraud", of.NewEvaluationContext("user-fraud-42", map[string]any{
			"kind": "user", "email": "x9@mail.example", "plan": "free",
		})},
		{"beta tester", of.NewEvaluationContext("user-anna", map[string]any{
			"kind": "user", "name": "Anna", "email": "anna@mail.example", "plan": "team",
		})},
		{"initech (multi)", of.NewEvaluationContext("", map[string]any{
			"kind":         "multi",
			"user":         map[string]any{"key": "user-3003", "name": "Lee", "email": "lee@initech.example"},
			"organization": map[string]any{"key": "org-initech", "name": "Initech", "plan": "enterprise"},
		})},
		{"acme (multi)", of.NewEvaluationContext("", map[string]any{
			"kind":         "multi",
			"user":         map[string]any{"key": "user-4004", "name": "Jack", "email": "jack@acme.example", "plan": "free"},
			"organization": map[string]any{"key": "org-acme", "name": "Acme", "plan": "pro"},
		})},
	}
}

// flagType is the OpenFeature type the application asks a flag with.
type flagType int

const (
	boolFlag flagType = iota
	stringFlag
	objectFlag
)

// question is one flag the application asks, with its type and the default
// it falls back to.
type question struct {
	flag string
	typ  flagType
	def  any
}

// questions are the application's flags, each with its own safe default.
var questions = []question{
	{"payments-enabled", boolFlag, false},
	{"support-tier", stringFlag, "standard"},
	{"search-ranking", stringFlag, "classic"},
	{"one-click-upsell", boolFlag, false},
	{"assistant", objectFlag, map[string]any{"enabled": false}},
}

// row is one answer: a flag asked for a subject.
type row struct {
	subject string
	flag    string
	value   any
	variant string
	reason  of.Reason
	code    of.ErrorCode
}

// application asks every flag for every subject through client, as the
// application's handlers would. An evaluation error is an answer too (the
// default, reason ERROR and a code), as OpenFeature hands it over.
func application(ctx context.Context, client *of.Client) []row {
	var rows []row
	for _, s := range subjects() {
		for _, q := range questions {
			r := row{subject: s.label, flag: q.flag}
			var d of.EvaluationDetails
			switch q.typ {
			case boolFlag:
				v, _ := client.BooleanValueDetails(ctx, q.flag, q.def.(bool), s.ec)
				r.value, d = v.Value, v.EvaluationDetails
			case stringFlag:
				v, _ := client.StringValueDetails(ctx, q.flag, q.def.(string), s.ec)
				r.value, d = v.Value, v.EvaluationDetails
			case objectFlag:
				v, _ := client.ObjectValueDetails(ctx, q.flag, q.def, s.ec)
				r.value, d = v.Value, v.EvaluationDetails
			}
			r.variant, r.reason, r.code = d.Variant, d.Reason, d.ErrorCode
			rows = append(rows, r)
		}
	}
	return rows
}

// printContexts lists the subjects' contexts as the provider receives them
// (the targeting key beside the attributes).
func printContexts(out io.Writer) {
	fmt.Fprintln(out, "Contexts the application sends (unchanged from LaunchDarkly):")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, s := range subjects() {
		fmt.Fprintf(tw, "  %s\t%s\n", s.label, asJSON(flatten(s.ec)))
	}
	_ = tw.Flush()
	fmt.Fprintln(out)
}

// printRows prints the answers as a table.
func printRows(out io.Writer, rows []row) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CONTEXT\tFLAG\tVALUE\tVARIANT\tREASON")
	last := ""
	for _, r := range rows {
		subject := r.subject
		if subject == last {
			subject = ""
		}
		last = r.subject
		reason := string(r.reason)
		if r.code != "" {
			reason += " (" + string(r.code) + ")"
		}
		variant := r.variant
		if variant == "" {
			variant = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", subject, r.flag, asJSON(r.value), variant, reason)
	}
	return tw.Flush()
}

// flatten is the context as a provider receives it: the attributes and,
// when set, the targeting key.
func flatten(ec of.EvaluationContext) map[string]any {
	m := maps.Clone(ec.Attributes())
	if k := ec.TargetingKey(); k != "" {
		m[of.TargetingKey] = k
	}
	return m
}

func asJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
