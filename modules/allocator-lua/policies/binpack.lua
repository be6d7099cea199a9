-- Bin packing: fill agents one by one and leave whole agents free for the
-- jobs that need them. Agents are visited fullest first (most cpus in
-- use); an agent with nothing in use is offered only when no busy agent
-- was offered this round, and then only one of them.

local busy_offered, idle_offered

function round(r)
  busy_offered, idle_offered = 0, false
end

function agent_key(a)
  return -(a.used.cpus or 0), a.id
end

function choose(agent, framework, offerable)
  if (agent.used.cpus or 0) > 0 then
    busy_offered = busy_offered + 1
    return true
  end
  if busy_offered > 0 or idle_offered then
    return false
  end
  idle_offered = true
  return true
end
