--- Declared licences as SBOMs take them: an SPDX licence expression when
-- the text is one by its grammar (identifiers joined by AND, OR and
-- WITH, parentheses, a trailing +), else the text kept as free text for a
-- LicenseRef. Never fails.
local M = {}

local OPS = { AND = true, OR = true, WITH = true }

-- true when the tokens of s form an expression: term (OP term)*, where a
-- term is an identifier or a parenthesised expression.
local function expression(s)
  local toks = {}
  for t in s:gsub("[()]", " %0 "):gmatch("%S+") do toks[#toks + 1] = t end
  local i = 1
  local parse_expr
  local function term()
    local t = toks[i]
    if t == "(" then
      i = i + 1
      if not parse_expr() or toks[i] ~= ")" then return false end
      i = i + 1
      return true
    end
    if not t or OPS[t] or t == ")" or not t:match("^[%w%.%-]+%+?$") then return false end
    i = i + 1
    return true
  end
  function parse_expr()
    if not term() then return false end
    while OPS[toks[i]] do
      i = i + 1
      if not term() then return false end
    end
    return true
  end
  return #toks > 0 and parse_expr() and i == #toks + 1
end

--- {expression=} for an SPDX expression, {text=} for anything else, or
-- nil for nothing declared (nil, empty, UNKNOWN).
function M.declared(s)
  if type(s) ~= "string" then return nil end
  s = s:gsub("^%s+", ""):gsub("%s+$", "")
  if s == "" or s:upper() == "UNKNOWN" then return nil end
  if expression(s) then return { expression = s } end
  return { text = s }
end

--- A LicenseRef identifier for free text: LicenseRef- and the text's
-- letters and digits (runs of others as one '-').
function M.ref(text)
  local id = text:gsub("[^%w%.]+", "-"):gsub("^%-+", ""):gsub("%-+$", "")
  if #id > 64 then id = id:sub(1, 48) .. "-" .. require("ocibuild.core").sha256():update(text):digest():sub(8, 15) end
  return "LicenseRef-" .. (id ~= "" and id or "unnamed")
end

return M
