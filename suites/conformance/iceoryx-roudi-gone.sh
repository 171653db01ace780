#!/bin/sh
# After conformance.iceoryx: the private RouDi the battery started stops once
# its last user has ended (plus a 3 s linger) and leaves nothing behind: no
# /dev/shm segment, no RouDi socket, no runtime socket /tmp/ipcq-iox-<pid>.
private='iox-roudi -c /tmp/ipcq-iox-roudi-'
if pgrep -x iox-roudi >/dev/null && ! pgrep -f "$private" >/dev/null; then
  echo "a RouDi not started by libipcq is running: its segments are its own, nothing to check"
  exit 0
fi
i=0
while [ $i -lt 150 ]; do
  if ! pgrep -f "$private" >/dev/null && [ ! -e /dev/shm/iceoryx_mgmt ] && [ ! -e /tmp/roudi ]; then
    left=$(ls /tmp | grep -E '^ipcq-iox-([0-9]+(\.lock)?|roudi-.*)$')
    if [ -n "$left" ]; then
      echo "the private RouDi stopped but left in /tmp: $left"
      exit 1
    fi
    echo "the private RouDi has stopped and left nothing behind"
    exit 0
  fi
  sleep 0.1
  i=$((i + 1))
done
echo "15 s after the battery the private RouDi still runs or left its names:"
pgrep -af iox-roudi
ls -l /dev/shm /tmp/roudi 2>&1
exit 1
