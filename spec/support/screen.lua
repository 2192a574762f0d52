--- What a terminal shows after a program wrote `bytes` to it, for the
-- specs that run ocibuild on a pseudo-terminal (spec/support/ontty.py): the
-- cursor moves and erasures ocibuild's live lines use (CR, LF, BS, CSI n
-- A/B/C/D, CSI K, CSI J), UTF-8 characters one cell each, lines wrapping
-- at the width. Other escape sequences are skipped. Scrolled-off lines
-- are kept: the result is every line from the first, trailing blanks cut.
local M = {}

--- The lines on the screen, a list of strings.
function M.render(bytes, cols)
  local rows, r, c = { {} }, 1, 1
  local function row(n)
    for i = #rows + 1, n do rows[i] = {} end
    return rows[n]
  end
  local i = 1
  while i <= #bytes do
    local ch = bytes:sub(i, i)
    if ch == "\27" then
      local params, final, j = bytes:match("^%[([%d;]*)([@-~])()", i + 1)
      if not params then
        i = i + 2 -- ESC and one byte
      else
        local n = tonumber(params:match("^%d+") or "") or 1
        if final == "A" then
          r = math.max(1, r - n)
        elseif final == "B" then
          r = r + n
        elseif final == "C" then
          c = math.min(cols, c + n)
        elseif final == "D" then
          c = math.max(1, c - n)
        elseif final == "K" then
          local line = row(r)
          for k = c, #line do line[k] = nil end
        elseif final == "J" then
          local line = row(r)
          for k = c, #line do line[k] = nil end
          for k = r + 1, #rows do rows[k] = {} end
        end
        i = j
      end
    elseif ch == "\r" then
      c, i = 1, i + 1
    elseif ch == "\n" then
      r, i = r + 1, i + 1
    elseif ch == "\b" then
      c, i = math.max(1, c - 1), i + 1
    elseif ch:byte() < 32 then
      i = i + 1
    else
      local len = ch:byte() >= 0xF0 and 4 or ch:byte() >= 0xE0 and 3 or ch:byte() >= 0xC0 and 2 or 1
      if c > cols then r, c = r + 1, 1 end
      local line = row(r)
      for k = #line + 1, c - 1 do line[k] = " " end
      line[c] = bytes:sub(i, i + len - 1)
      c, i = c + 1, i + len
    end
  end
  local out = {}
  for k, line in ipairs(rows) do
    local parts = {}
    for x = 1, #line do parts[x] = line[x] or " " end
    out[k] = table.concat(parts):gsub("%s+$", "")
  end
  while #out > 0 and out[#out] == "" do out[#out] = nil end
  return out
end

return M
