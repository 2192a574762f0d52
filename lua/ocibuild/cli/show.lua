--- What the store commands print: aligned tables with a header row, JSON
-- indented for people (keys sorted, as the canonical encoder writes
-- them), and ages ("3 hours ago") from RFC 3339 times.
local json = require "ocibuild.oci.json"

local M = {}

--- Rows (lists of strings) as columns separated by three spaces, the
-- last column unpadded. Returns the text.
function M.table(rows)
  local widths = {}
  for _, row in ipairs(rows) do
    for i, cell in ipairs(row) do widths[i] = math.max(widths[i] or 0, utf8.len(cell) or #cell) end
  end
  local out = {}
  for _, row in ipairs(rows) do
    local cells = {}
    for i, cell in ipairs(row) do
      cells[i] = i < #row and cell .. (" "):rep(widths[i] - (utf8.len(cell) or #cell)) or cell
    end
    out[#out + 1] = table.concat(cells, "   ") .. "\n"
  end
  return table.concat(out)
end

--- The canonical JSON text of v, indented by two spaces, ending in a
-- newline.
function M.json(v)
  local text = json.encode(v)
  local out, depth, i, n = {}, 0, 1, #text
  local function nl() out[#out + 1] = "\n" .. ("  "):rep(depth) end
  while i <= n do
    local c = text:sub(i, i)
    if c == '"' then
      local j = i + 1
      while true do
        local k = text:find('[\\"]', j)
        if text:sub(k, k) == "\\" then j = k + 2 else j = k break end
      end
      out[#out + 1] = text:sub(i, j)
      i = j
    elseif c == "{" or c == "[" then
      local close = c == "{" and "}" or "]"
      if text:sub(i + 1, i + 1) == close then
        out[#out + 1] = c .. close
        i = i + 1
      else
        out[#out + 1] = c
        depth = depth + 1
        nl()
      end
    elseif c == "}" or c == "]" then
      depth = depth - 1
      nl()
      out[#out + 1] = c
    elseif c == "," then
      out[#out + 1] = ","
      nl()
    elseif c == ":" then
      out[#out + 1] = ": "
    else
      out[#out + 1] = c
    end
    i = i + 1
  end
  return table.concat(out) .. "\n"
end

--- Seconds since the epoch of an RFC 3339 time (offset honoured,
-- fractions dropped), or nil.
function M.epoch(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, h, mi, se, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[Tt ](%d%d):(%d%d):(%d%d)(.*)$")
  if not y then return nil end
  y, mo = tonumber(y), tonumber(mo)
  -- days from 1970-01-01 (civil calendar)
  local a = mo <= 2 and 1 or 0
  local yy, mm = y - a, mo + (a == 1 and 9 or -3)
  local era = yy // 400
  local yoe = yy - era * 400
  local doy = (153 * mm + 2) // 5 + tonumber(d) - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  local days = era * 146097 + doe - 719468
  local t = days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(se)
  rest = rest:gsub("^%.%d+", "")
  local sign, oh, om = rest:match("^([+-])(%d%d):(%d%d)$")
  if sign then
    local off = tonumber(oh) * 3600 + tonumber(om) * 60
    t = sign == "+" and t - off or t + off
  elseif rest ~= "Z" and rest ~= "z" then
    return nil
  end
  return t
end

--- "N units ago" for an RFC 3339 time, as docker images prints it; "-"
-- when unknown.
function M.age(s, now)
  local t = M.epoch(s)
  if not t then return "-" end
  local d = (now or os.time()) - t
  if d < 0 then return "in the future" end
  local function plural(n, unit) return ("%d %s%s ago"):format(n, unit, n == 1 and "" or "s") end
  if d < 60 then return d < 2 and "Less than a second ago" or plural(d, "second") end
  if d < 3600 then return d < 120 and "About a minute ago" or plural(d // 60, "minute") end
  if d < 86400 then return d < 7200 and "About an hour ago" or plural(d // 3600, "hour") end
  if d < 86400 * 14 then return plural(d // 86400, "day") end
  if d < 86400 * 60 then return plural(d // (86400 * 7), "week") end
  if d < 86400 * 730 then return plural(d // (86400 * 30), "month") end
  return plural(d // (86400 * 365), "year")
end

return M
