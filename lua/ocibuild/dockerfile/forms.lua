--- The argument forms of Dockerfile instructions, as BuildKit's parser
-- reads them (line_parsers.go, split_command.go): words split on white
-- space with quotes and escapes kept; KEY=VALUE pairs (and the old KEY
-- VALUE form) of ENV and LABEL; JSON arrays of strings (exec form), with
-- what is not one taken as shell form; the --flags before the arguments.
-- Functions return nil, msg for what BuildKit refuses.
local json = require "ocibuild.oci.json"
local text = require "ocibuild.dockerfile.text"

local M = {}

-- [\t\v\f\r ]+ as BuildKit splits on it.
local WS = "[\t\v\f\r ]+"

function M.split2(s)
  local a, b = s:find(WS)
  if not a then return { s } end
  return { s:sub(1, a - 1), s:sub(b + 1) }
end

function M.split_ws(s)
  local out, pos = {}, 1
  while true do
    local a, b = s:find(WS, pos)
    if not a then
      out[#out + 1] = s:sub(pos)
      return out
    end
    out[#out + 1] = s:sub(pos, a - 1)
    pos = b + 1
  end
end

-- ---- argument forms ----

--- Space-separated words, quotes and escapes kept (parseWords).
function M.parse_words(rest, esc)
  local words, cs = {}, text.chars(rest)
  local phase, quote, blank_ok, buf = "spaces", nil, false, {}
  local i = 1
  local n = #cs
  while i <= n + 1 do
    local ch = cs[i]
    local at_end = i == n + 1
    local skip = false
    if phase == "spaces" then
      if at_end then break end
      if text.is_space(ch) then
        skip = true
      else
        phase = "word"
      end
    end
    if not skip then
      if (phase == "word" or phase == "quote") and at_end then
        if blank_ok or #buf > 0 then words[#words + 1] = table.concat(buf) end
        break
      end
      if phase == "word" then
        if text.is_space(ch) then
          phase = "spaces"
          if blank_ok or #buf > 0 then words[#words + 1] = table.concat(buf) end
          buf, blank_ok = {}, false
        else
          if ch == "'" or ch == '"' then
            quote, blank_ok, phase = ch, true, "quote"
          end
          if ch == esc then
            if i + 1 == n + 1 then
              ch = nil -- an escape at the end of the line is dropped
            else
              buf[#buf + 1] = ch
              i = i + 1
              ch = cs[i]
            end
          end
          if ch then buf[#buf + 1] = ch end
        end
      elseif phase == "quote" then
        if ch == quote then phase = "word" end
        if ch == esc and quote ~= "'" then
          if i + 1 == n + 1 then
            phase, ch = "word", nil
          else
            i = i + 1
            buf[#buf + 1] = ch
            ch = cs[i]
          end
        end
        if ch then buf[#buf + 1] = ch end
      end
    end
    i = i + 1
  end
  return words
end

function M.kv(key, value, sep, out)
  out[#out + 1], out[#out + 2], out[#out + 3] = key, value, sep
end

--- ENV and LABEL: KEY VALUE (old form) or KEY=VALUE ... (parseNameVal).
function M.parse_name_val(rest, what, d)
  local words = M.parse_words(rest, d.escape)
  if #words == 0 then return {} end
  local out = {}
  if not words[1]:find("=", 1, true) then
    local parts = M.split2(rest)
    if #parts < 2 then return nil, ("%s must have two arguments"):format(what), "BADDOCKERFILE" end
    M.kv(parts[1], parts[2], "", out)
    return out
  end
  for _, w in ipairs(words) do
    local k, v = w:match("^([^=]*)=(.*)$")
    if not k then
      return nil, ("Syntax error - can't find = in %s. Must be of the form: name=value"):format(text.quote(w)),
        "BADDOCKERFILE"
    end
    M.kv(k, v, "=", out)
  end
  return out
end

function M.parse_json(rest)
  rest = text.trim_left(rest)
  if rest:sub(1, 1) ~= "[" then return nil end
  -- Go's decoder reads a byte that is not UTF-8 as U+FFFD
  local ok, v = pcall(json.decode, (text.go_json(rest)), "JSON form")
  if not ok or v == nil or not json.is_array(v) then return nil end
  local out = {}
  for i, x in ipairs(v) do
    if type(x) ~= "string" then
      return nil, "when using JSON array syntax, arrays must be comprised of strings only", "BADDOCKERFILE"
    end
    out[i] = x
  end
  return out
end

function M.maybe_json(rest)
  if rest == "" then return {} end
  local list, err = M.parse_json(rest)
  if list then return list, true end
  if err then return nil, err, "BADDOCKERFILE" end
  return { rest }
end

function M.maybe_json_list(rest)
  local list, err = M.parse_json(rest)
  if list then return list, true end
  if err then return nil, err, "BADDOCKERFILE" end
  if rest == "" then return {} end
  return M.split_ws(rest)
end

--- unicode.IsSpace of a byte taken as a rune, as BuildKit tests bytes.
function M.byte_space(ch)
  return ch:match("^[\t\n\v\f\r ]$") ~= nil or ch == "\133" or ch == "\160"
end

--- Flags at the start of the arguments (extractBuilderFlags): the words
-- starting with "--", and the rest of the line.
function M.builder_flags(line, d)
  local words, buf = {}, {}
  local phase, quote, blank_ok = "spaces", nil, false
  local n, pos = #line, 1
  while pos <= n + 1 do
    local ch = line:sub(pos, pos)
    local at_end = pos == n + 1
    local skip = false
    if phase == "spaces" then
      if at_end then break end
      if M.byte_space(ch) then
        skip = true
      else
        if ch ~= "-" or pos + 1 == n + 1 or line:sub(pos + 1, pos + 1) ~= "-" then
          return line:sub(pos), words
        end
        phase = "word"
      end
    end
    if not skip then
      if (phase == "word" or phase == "quote") and at_end then
        local word = table.concat(buf)
        if word ~= "--" and (blank_ok or #word > 0) then words[#words + 1] = word end
        break
      end
      if phase == "word" then
        if M.byte_space(ch) then
          local word = table.concat(buf)
          phase = "spaces"
          if word == "--" then return line:sub(pos), words end
          if blank_ok or #word > 0 then words[#words + 1] = word end
          buf, blank_ok = {}, false
        elseif ch == "'" or ch == '"' then
          quote, blank_ok, phase = ch, true, "quote"
        else
          local add = true
          if ch == d.escape then
            if pos + 1 == n + 1 then
              add = false
            else
              pos = pos + 1
              ch = line:sub(pos, pos)
            end
          end
          if add then buf[#buf + 1] = ch end
        end
      elseif phase == "quote" then
        if ch == quote then
          phase = "word"
        else
          local add = true
          if ch == d.escape then
            if pos + 1 == n + 1 then
              phase, add = "word", false
            else
              pos = pos + 1
              ch = line:sub(pos, pos)
            end
          end
          if add then buf[#buf + 1] = ch end
        end
      end
    end
    pos = pos + 1
  end
  return "", words
end


return M
