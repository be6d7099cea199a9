-- First fit: each agent goes whole to the first framework by id.

function key(f)
  return f.id
end
