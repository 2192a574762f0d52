--- The "Key: value" stanzas of Debian's status file and Python's package
-- METADATA (RFC 822 headers): a line starting with a space or a tab
-- continues the field before it; a blank line ends a stanza. Never fails.
local M = {}

--- The stanzas of text (at most max of them), each {fields= (the first
-- value of each field), all= (every value of each field, in order)}.
function M.parse(text, max)
  local out, cur, last = {}, nil, nil
  -- the lines of the field being continued, joined once it ends: joining
  -- at each line would take time quadratic in a field's length
  local parts
  local function flush()
    if not parts then return end
    local all = cur.all[last]
    all[#all] = table.concat(parts, "\n")
    cur.fields[last] = all[1]
    parts = nil
  end
  for line in (text:gsub("\r\n", "\n") .. "\n"):gmatch("([^\n]*)\n") do
    if line == "" then
      flush()
      if cur then out[#out + 1] = cur end
      cur, last = nil, nil
      if max and #out >= max then return out end
    elseif line:match("^[ \t]") then
      if last then
        local all = cur.all[last]
        parts = parts or { all[#all] }
        parts[#parts + 1] = (line:gsub("^[ \t]", ""))
      end
    else
      flush()
      local k, v = line:match("^([^:%s]+):%s*(.-)%s*$")
      if k then
        cur = cur or { fields = {}, all = {} }
        cur.all[k] = cur.all[k] or {}
        table.insert(cur.all[k], v)
        if cur.fields[k] == nil then cur.fields[k] = v end
        last = k
      else
        last = nil
      end
    end
  end
  flush()
  if cur then out[#out + 1] = cur end
  return out
end

return M
