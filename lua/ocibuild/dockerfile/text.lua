--- Text helpers the Dockerfile front end shares: UTF-8 split into
-- characters (a byte that is not UTF-8 is a character of its own), Go's
-- unicode.IsSpace and IsLetter as BuildKit's parser and shell lexer call
-- them, Go's strings.TrimSpace and strconv.Quote (for the parse tree's
-- dump). Never fails.
local check = require "ocibuild.util.check"

local M = {}

-- Lengths of a UTF-8 sequence by its first byte, and the least code
-- point of each length (shorter forms are not UTF-8).
local function seq_len(b)
  if b < 0x80 then return 1 end
  if b >= 0xc2 and b <= 0xdf then return 2 end
  if b >= 0xe0 and b <= 0xef then return 3 end
  if b >= 0xf0 and b <= 0xf4 then return 4 end
  return nil
end

--- The code point of the character c (from chars), or nil for a byte
-- that is not UTF-8.
function M.code(c)
  if #c == 1 then
    local b = c:byte()
    return b < 0x80 and b or nil
  end
  local ok, n = pcall(utf8.codepoint, c)
  return ok and n or nil
end

--- s as a list of characters.
function M.chars(s)
  local out, i, n = {}, 1, #s
  while i <= n do
    local len = seq_len(s:byte(i))
    local c = len and s:sub(i, i + len - 1)
    if not c or #c ~= len or (len > 1 and not M.code(c)) then
      c, len = s:sub(i, i), 1
    end
    out[#out + 1] = c
    i = i + len
  end
  return out
end

--- s as Go's encoding/json writes a string into a document (BuildKit's
-- image config and history): each byte that is not part of a UTF-8
-- character becomes U+FFFD. Returns it, and true when a byte was replaced.
function M.go_json(s)
  if utf8.len(s) then return s, false end
  return check.utf8(s), true
end

local SPACE = { [0x09] = true, [0x0a] = true, [0x0b] = true, [0x0c] = true, [0x0d] = true, [0x20] = true,
  [0x85] = true, [0xa0] = true, [0x1680] = true, [0x2028] = true, [0x2029] = true, [0x202f] = true,
  [0x205f] = true, [0x3000] = true }

--- Go's unicode.IsSpace for the character c.
function M.is_space(c)
  local n = M.code(c)
  return n ~= nil and (SPACE[n] or (n >= 0x2000 and n <= 0x200a)) or false
end

-- Ranges of code points that are punctuation, symbols, marks or spaces
-- rather than letters (enough for the names a shell variable may take).
local NOT_LETTER = { { 0x80, 0xbf }, { 0xd7, 0xd7 }, { 0xf7, 0xf7 }, { 0x300, 0x36f }, { 0x2000, 0x2bff },
  { 0x3000, 0x3003 }, { 0x3008, 0x303f }, { 0xfe00, 0xfe6f }, { 0xff00, 0xff0f }, { 0xff1a, 0xff20 } }

--- Go's unicode.IsLetter (ASCII exactly; other characters by ranges).
function M.is_letter(c)
  local n = M.code(c)
  if not n then return false end
  if n < 0x80 then return (n >= 65 and n <= 90) or (n >= 97 and n <= 122) end
  for _, r in ipairs(NOT_LETTER) do
    if n >= r[1] and n <= r[2] then return false end
  end
  return true
end

--- Go's unicode.IsDigit for ASCII (the only digits a Dockerfile names).
function M.is_digit(c)
  return #c == 1 and c:match("%d") ~= nil
end

--- Go's strings.TrimSpace.
function M.trim(s)
  local cs = M.chars(s)
  local a, b = 1, #cs
  while a <= b and M.is_space(cs[a]) do a = a + 1 end
  while b >= a and M.is_space(cs[b]) do b = b - 1 end
  return table.concat(cs, "", a, b)
end

--- s without leading white space (Go's TrimLeftFunc(unicode.IsSpace)).
function M.trim_left(s)
  local cs = M.chars(s)
  local a = 1
  while a <= #cs and M.is_space(cs[a]) do a = a + 1 end
  return table.concat(cs, "", a)
end

local ESC = { ["\a"] = "\\a", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
  ["\v"] = "\\v", ['"'] = '\\"', ["\\"] = "\\\\" }

--- Go's strconv.Quote: double-quoted, with Go escapes for what is not
-- printable (C0 and C1 controls, DEL, U+00AD, line and paragraph
-- separators, bytes that are not UTF-8).
function M.quote(s)
  local out = { '"' }
  for _, c in ipairs(M.chars(s)) do
    local n = M.code(c)
    if ESC[c] then
      out[#out + 1] = ESC[c]
    elseif not n then
      out[#out + 1] = ("\\x%02x"):format(c:byte())
    elseif n < 0x20 or n == 0x7f then
      out[#out + 1] = ("\\x%02x"):format(n)
    elseif (n >= 0x80 and n < 0xa0) or n == 0xad or n == 0x2028 or n == 0x2029 or (n >= 0x200b and n <= 0x200f)
        or n == 0xfeff then
      out[#out + 1] = ("\\u%04x"):format(n)
    else
      out[#out + 1] = c
    end
  end
  out[#out + 1] = '"'
  return table.concat(out)
end

return M
