-- Replays a file of requests, one per line: METHOD<TAB>PATH[<TAB>JSON BODY].
-- Thread k of n takes lines k, k+n, k+2n … so no two threads send the same PUT; a thread that
-- runs out of lines starts again from its first (then a PUT repeats an identical body).
-- Environment: BENCH_REQUESTS (the file), BENCH_API_KEY (Bearer key, optional), BENCH_THREADS.

local next_thread = 1

function setup(thread)
  thread:set("thread_number", next_thread)
  next_thread = next_thread + 1
end

function init(args)
  lines = {}
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    local method, path, body = line:match("^(%u+)\t([^\t]+)\t?(.*)$")
    lines[#lines + 1] = { method, path, body }
  end
  step = tonumber(os.getenv("BENCH_THREADS") or "1")
  position = thread_number
  headers = { ["Accept"] = "application/json" }
  local key = os.getenv("BENCH_API_KEY")
  if key and key ~= "" then
    headers["Authorization"] = "Bearer " .. key
  end
end

function request()
  local item = lines[((position - 1) % #lines) + 1]
  position = position + step
  if item[3] ~= "" then
    headers["Content-Type"] = "application/json"
    return wrk.format(item[1], item[2], headers, item[3])
  end
  headers["Content-Type"] = nil
  return wrk.format(item[1], item[2], headers)
end
