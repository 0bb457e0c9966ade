// Filtering, sorting and search over the embedded problem list: local, no network.
(function () {
  const rows = JSON.parse(document.getElementById("data").textContent);
  const body = document.querySelector("#problems tbody");
  const q = (id) => document.getElementById(id);
  let sortKey = "id", sortDir = 1;
  function fill(id, values) {
    const sel = q(id);
    [...new Set(values)].sort().forEach((v) => { const o = document.createElement("option"); o.value = o.textContent = v; sel.appendChild(o); });
  }
  fill("year", rows.map((r) => String(r.year)));
  fill("section", rows.map((r) => r.section));
  fill("status", rows.map((r) => r.status));
  fill("level", rows.flatMap((r) => r.levels));
  const hash = new URLSearchParams(location.hash.slice(1));
  for (const k of ["year", "section", "status", "level"]) {
    const v = hash.get(k);
    if (!v) continue;
    // a link to a year (or level) with no transcripts still filters: it shows none, not everything
    if (![...q(k).options].some((o) => o.value === v)) { const o = document.createElement("option"); o.value = o.textContent = v; q(k).appendChild(o); }
    q(k).value = v;
  }
  function show() {
    const f = { year: q("year").value, section: q("section").value, status: q("status").value, level: q("level").value,
                rounds: Number(q("rounds").value || 0), pass: Number(q("pass").value || 0), text: q("search").value.toLowerCase() };
    const shown = rows.filter((r) => (!f.year || String(r.year) === f.year) && (!f.section || r.section === f.section)
      && (!f.status || r.status === f.status) && (!f.level || r.levels.includes(f.level)) && r.rounds >= f.rounds
      && (r.pass_rate === null ? f.pass === 0 : r.pass_rate >= f.pass) && (!f.text || r.search.includes(f.text)));
    shown.sort((a, b) => (a[sortKey] > b[sortKey] ? 1 : a[sortKey] < b[sortKey] ? -1 : 0) * sortDir);
    body.innerHTML = "";
    for (const r of shown) {
      const tr = document.createElement("tr");
      tr.className = "row";
      const cells = [r.id, r.year, r.section, r.status, r.rounds, r.pass_rate === null ? "–" : r.pass_rate.toFixed(2), r.tokens, r.words, r.levels.join(" ")];
      cells.forEach((c, i) => {
        const td = document.createElement("td");
        if (i === 0) { const a = document.createElement("a"); a.href = "p/" + r.file; a.textContent = c; td.appendChild(a); }
        else td.textContent = c;
        if (i === 3) td.className = r.status;
        tr.appendChild(td);
      });
      body.appendChild(tr);
    }
    q("count").textContent = shown.length + " of " + rows.length + " problems";
  }
  document.querySelectorAll("select, input").forEach((el) => el.addEventListener("input", show));
  document.querySelectorAll("th[data-sort]").forEach((th) => th.addEventListener("click", () => {
    const k = th.dataset.sort; sortDir = sortKey === k ? -sortDir : (k === "tokens" || k === "words" ? -1 : 1); sortKey = k; show();
  }));
  show();
})();
