package server

import "github.com/redisflags/redisflags/evaluator"

// WireFlag returns a copy of f in the tutorial's JSON shape: environments as
// an object and allowlists as arrays even when empty (never null), as the
// tutorial's application sends them. f is not modified.
func WireFlag(f evaluator.Flag) evaluator.Flag {
	f = f.Clone()
	if f.Environments == nil {
		f.Environments = map[string]evaluator.Environment{}
	}
	for name, env := range f.Environments {
		if env.AllowlistUsers == nil {
			env.AllowlistUsers = []string{}
		}
		if env.AllowlistRegions == nil {
			env.AllowlistRegions = []string{}
		}
		f.Environments[name] = env
	}
	return f
}

// splitJoined returns the messages of an errors.Join, or of one error.
func splitJoined(err error) []string {
	if err == nil {
		return nil
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}
