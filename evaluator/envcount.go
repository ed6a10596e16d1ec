package evaluator

// EnvironmentCount returns how many environments the flag has: what reading
// it from Redis costs grows with it (the provider's paced resync).
func (c *Compiled) EnvironmentCount() int { return len(c.envs) }
