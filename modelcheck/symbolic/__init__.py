"""The z3 engine: symbolic runs of a spec, BMC, Spacer and k-induction proofs, assumption cores."""
