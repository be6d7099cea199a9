-- Strict role priority: every framework of a higher-priority role is
-- offered before any of a lower one, whatever their shares; within a role,
-- DRF (smaller dominant share first, then fewer offers).

-- Lower numbers go first; roles not listed come last.
priority = { prod = 1, staging = 2 }

function key(f)
  return priority[f.role] or math.huge, f.share, f.offers, f.id
end
