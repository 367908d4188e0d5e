-- Argo CD health check for canary.dev/Canary, the same reading as kstatus (Flux):
-- Degraded while Stalled=True (a rolled-back release, a Canary the controller refuses or
-- cannot move), Progressing while a release is in flight or before the controller has judged
-- the current spec, Healthy once Ready=True. See docs/concepts.md.
hs = { status = "Progressing", message = "Waiting for the canary controller" }
if obj.status == nil then
  return hs
end
if obj.status.observedGeneration ~= obj.metadata.generation then
  hs.message = "The controller has not judged generation " .. tostring(obj.metadata.generation) .. " yet"
  return hs
end
local conditions = obj.status.conditions or {}
for _, condition in ipairs(conditions) do
  if condition.type == "Stalled" and condition.status == "True" then
    hs.status = "Degraded"
    hs.message = condition.message
    return hs
  end
end
for _, condition in ipairs(conditions) do
  if condition.type == "Reconciling" and condition.status == "True" then
    hs.message = condition.message
    return hs
  end
end
for _, condition in ipairs(conditions) do
  if condition.type == "Ready" and condition.status == "True" then
    hs.status = "Healthy"
    hs.message = condition.message
    return hs
  end
end
return hs
