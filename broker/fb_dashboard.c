/* fb_dashboard.c — a minimal dashboard page: the members and their states, read from /api/status every few seconds. */
#include "fb_dashboard.h"

#include <string.h>

static const char s_page[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>fedbus dashboard</title>\n"
    "<style>body{font-family:sans-serif;margin:2em}td,th{padding:.2em .8em;text-align:left}"
    ".up{color:#070}.stale{color:#a60}.down{color:#b00}.never{color:#777}</style></head>\n"
    "<body><h1>fedbus dashboard</h1><p id=\"broker\"></p>\n"
    "<table><thead><tr><th>member</th><th>name</th><th>state</th><th>last seen</th><th>msgs/min</th>"
    "<th>outbox</th><th>lag</th></tr></thead><tbody id=\"members\"></tbody></table>\n"
    "<script>\n"
    "function cell(t){var td=document.createElement('td');td.textContent=t;return td;}\n"
    "function show(s){\n"
    " document.getElementById('broker').textContent='broker '+s.broker.version+' '+s.broker.state+\n"
    "  ', head '+s.broker.global_seq+', postgres '+(s.broker.postgres.reachable?'reachable':'unreachable');\n"
    " var tb=document.getElementById('members');tb.textContent='';\n"
    " s.members.forEach(function(m){var tr=document.createElement('tr');tr.className=m.state;\n"
    "  tr.appendChild(cell(m.id));tr.appendChild(cell((m.name.en||'')+(m.name.ko?' / '+m.name.ko:'')));\n"
    "  tr.appendChild(cell(m.state));tr.appendChild(cell(m.last_seen||'-'));\n"
    "  tr.appendChild(cell(m.msgs_per_min.toFixed(1)));tr.appendChild(cell(m.outbox?m.outbox.depth:'-'));\n"
    "  tr.appendChild(cell(m.feed?m.feed.lag:'-'));tb.appendChild(tr);});}\n"
    "function poll(){fetch('/api/status',{credentials:'same-origin'}).then(function(r){return r.json();})"
    ".then(show).catch(function(){});}\n"
    "poll();setInterval(poll,3000);\n"
    "</script></body></html>\n";

static const fb_dashboard_asset_t s_assets[] = {
    {"/", "text/html; charset=utf-8", (const unsigned char *)s_page, sizeof(s_page) - 1},
    {"/dashboard/", "text/html; charset=utf-8", (const unsigned char *)s_page, sizeof(s_page) - 1},
    {"/dashboard/index.html", "text/html; charset=utf-8", (const unsigned char *)s_page, sizeof(s_page) - 1},
};

const fb_dashboard_asset_t *fb_dashboard_find(const char *path)
{
    for (size_t i = 0; path && i < sizeof(s_assets) / sizeof(s_assets[0]); i++)
        if (strcmp(s_assets[i].path, path) == 0) return &s_assets[i];
    return NULL;
}
