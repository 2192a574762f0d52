-- Fuzz check for ocibuild.oci.ref: parse never raises; what it accepts,
-- its normalized and familiar forms parse again to the same reference.
local ref = require "ocibuild.oci.ref"

return function(s)
  local r, err = ref.parse(s)
  if not r then
    assert(type(err) == "string" and not err:find("\n", 1, true), "no one-line message")
    return
  end
  local n = assert(ref.parse(r.normalized), "the normalized form does not parse: " .. r.normalized)
  assert(n.normalized == r.normalized, "normalizing twice changes " .. r.normalized)
  local f = assert(ref.parse(r.familiar), "the familiar form does not parse: " .. r.familiar)
  assert(f.normalized == r.normalized, "the familiar form is another reference: " .. r.familiar)
  assert(f.familiar == r.familiar, "the familiar form is not stable: " .. r.familiar)
end
