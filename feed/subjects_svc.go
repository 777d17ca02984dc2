package feed

// Service is the subject prefix of an agent instance's NATS micro
// endpoints (terminate, calls, stats): <prefix>.v1.svc.<instance>. The
// instance keeps each agent's endpoints its own; the prefix keeps
// installations that share a NATS apart, as every other subject does.
func (s Subjects) Service(instance string) string {
	return s.prefix() + ".v1.svc." + Token(instance)
}

// Services matches every agent's micro endpoints under the prefix.
func (s Subjects) Services() string { return s.prefix() + ".v1.svc.>" }
