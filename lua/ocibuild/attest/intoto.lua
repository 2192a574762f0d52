--- in-toto statements (v1), the unsigned form attestations take (BuildKit
-- stores them so), and the payload a DSSE envelope signs. Never fails.
local json = require "ocibuild.oci.json"

local M = {}

M.STATEMENT = "https://in-toto.io/Statement/v1"
M.PAYLOAD_TYPE = "application/vnd.in-toto+json"

--- A statement about subjects ({ {name=, digest="sha256:<hex>"} }),
-- with predicate (a JSON table) of predicate_type.
function M.statement(subjects, predicate_type, predicate)
  local subs = json.array {}
  for i, s in ipairs(subjects) do
    local alg, hex = s.digest:match("^(%w+):(%x+)$")
    subs[i] = json.object { name = s.name, digest = json.object { [alg] = hex } }
  end
  return json.object { _type = M.STATEMENT, subject = subs, predicateType = predicate_type, predicate = predicate }
end

return M
