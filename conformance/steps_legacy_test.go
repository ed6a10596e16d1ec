package conformance_test

import (
	"context"
	"fmt"
	"strconv"

	"github.com/cucumber/godog"
	of "github.com/open-feature/go-sdk/openfeature"
)

// Steps of evaluation.feature, the spec's older (deprecated) evaluation
// suite, which words its steps differently from evaluation_v2.feature but
// asks the same of the provider.

// evalTyped describes and evaluates a flag in one step.
func (w *world) evalTyped(ctx context.Context, typ, key, def string) error {
	if err := w.aFlag(typ, key, def); err != nil {
		return err
	}
	return w.evaluatedWithDetails(ctx)
}

func (w *world) registerLegacy(sc *godog.ScenarioContext) {
	for _, typ := range []string{"boolean", "string"} {
		typ := typ
		sc.Step(`^an? `+typ+` flag with key "([^"]*)" is evaluated with (?:details and )?default value "(.*)"$`,
			func(ctx context.Context, key, def string) error { return w.evalTyped(ctx, typ, key, def) })
	}
	sc.Step(`^an integer flag with key "([^"]*)" is evaluated with (?:details and )?default value (-?\d+)$`,
		func(ctx context.Context, key, def string) error { return w.evalTyped(ctx, "integer", key, def) })
	sc.Step(`^a float flag with key "([^"]*)" is evaluated with (?:details and )?default value (-?[\d.]+)$`,
		func(ctx context.Context, key, def string) error { return w.evalTyped(ctx, "float", key, def) })
	sc.Step(`^an object flag with key "([^"]*)" is evaluated with (?:details and )?a null default value$`,
		func(ctx context.Context, key string) error {
			w.flagType, w.key, w.defaultValue = "object", key, nil
			return w.evaluatedWithDetails(ctx)
		})

	for _, typ := range []string{"boolean", "string", "integer", "float"} {
		typ := typ
		sc.Step(`^the resolved `+typ+` value should be "?([^"]*)"?$`, func(want string) error {
			return sameValue(typ, w.details.Value, want)
		})
		sc.Step(`^the resolved `+typ+` details value should be "?([^",]*)"?, the variant should be "([^"]*)", and the reason should be "([^"]*)"$`,
			func(value, variant, reason string) error {
				if err := sameValue(typ, w.details.Value, value); err != nil {
					return err
				}
				if err := w.variantShouldBe(variant); err != nil {
					return err
				}
				return w.reasonShouldBe(reason)
			})
	}
	objectFields := func(f1, f2, f3, v1, v2, v3 string) error {
		m, ok := w.details.Value.(map[string]any)
		if !ok {
			return fmt.Errorf("value %#v is not an object (reason %s, error %s)", w.details.Value, w.details.Reason, w.details.ErrorCode)
		}
		n, err := strconv.ParseFloat(v3, 64)
		if err != nil {
			return err
		}
		want := map[string]any{f1: v1 == "true", f2: v2, f3: n}
		for k, v := range want {
			if fmt.Sprint(m[k]) != fmt.Sprint(v) {
				return fmt.Errorf("field %q = %#v, want %#v", k, m[k], v)
			}
		}
		return nil
	}
	sc.Step(`^the resolved object (?:details )?value should be contain fields "([^"]*)", "([^"]*)", and "([^"]*)", with values "([^"]*)", "([^"]*)" and (\d+), respectively$`, objectFields)
	sc.Step(`^the variant should be "([^"]*)", and the reason should be "([^"]*)"$`, func(variant, reason string) error {
		if err := w.variantShouldBe(variant); err != nil {
			return err
		}
		return w.reasonShouldBe(reason)
	})

	// context-aware evaluation
	sc.Step(`^context contains keys "([^"]*)", "([^"]*)", "([^"]*)", "([^"]*)" with values "([^"]*)", "([^"]*)", (\d+), "([^"]*)"$`,
		func(k1, k2, k3, k4, v1, v2 string, v3 int, v4 string) error {
			b, err := strconv.ParseBool(v4)
			if err != nil {
				return err
			}
			w.attrs = map[string]any{k1: v1, k2: v2, k3: int64(v3), k4: b}
			return nil
		})
	sc.Step(`^a flag with key "([^"]*)" is evaluated with default value "([^"]*)"$`, func(ctx context.Context, key, def string) error {
		return w.evalTyped(ctx, "string", key, def)
	})
	sc.Step(`^the resolved string response should be "([^"]*)"$`, func(want string) error {
		return sameValue("string", w.details.Value, want)
	})
	sc.Step(`^the resolved flag value is "([^"]*)" when the context is empty$`, func(ctx context.Context, want string) error {
		d, err := w.evaluate(ctx, w.b.client, of.EvaluationContext{})
		if err != nil {
			return err
		}
		return sameValue("string", d.Value, want)
	})

	// errors
	sc.Step(`^a non-existent string flag with key "([^"]*)" is evaluated with details and a fallback value "([^"]*)"$`,
		func(ctx context.Context, key, def string) error { return w.evalTyped(ctx, "string", key, def) })
	sc.Step(`^a string flag with key "([^"]*)" is evaluated as an integer, with details and a fallback value (\d+)$`,
		func(ctx context.Context, key, def string) error { return w.evalTyped(ctx, "integer", key, def) })
	sc.Step(`^the default (string|integer) value should be returned$`, func(typ string) error {
		if w.details.Value != w.defaultValue {
			return fmt.Errorf("value %#v, want the default %#v", w.details.Value, w.defaultValue)
		}
		return nil
	})
	sc.Step(`^the reason should indicate an error and the error code should indicate a (?:missing flag|type mismatch) with "([^"]*)"$`,
		func(code string) error {
			if err := w.reasonShouldBe(string(of.ErrorReason)); err != nil {
				return err
			}
			return w.errorCodeShouldBe(code)
		})
}
