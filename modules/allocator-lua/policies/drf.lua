-- Weighted Dominant Resource Fairness, as Corral's native DRF allocator:
-- roles in the order of their weighted dominant share, frameworks within a
-- role by their own share, then by fewer offers made, then by id. The
-- allocator offers each agent to the first framework in that order that
-- may use it.

-- Role weights: a weight-2 role gets twice the resources of a weight-1 one.
weights = {}

function key(f)
  return f.role_share / (weights[f.role] or 1), f.role, f.share, f.offers, f.id
end
