// A small banner under the header: which model answers, and whether it is still loading.
(function () {
  const ID = "model-banner";
  async function refresh() {
    let info;
    try {
      const response = await fetch("/hybrid-chat/status", { cache: "no-store" });
      if (!response.ok) return schedule(5000);
      info = await response.json();
    } catch (err) {
      return schedule(5000);
    }
    let banner = document.getElementById(ID);
    if (!banner) {
      banner = document.createElement("div");
      banner.id = ID;
      document.body.appendChild(banner);
    }
    banner.textContent = info.banner;
    banner.dataset.demo = String(info.demo);
    banner.dataset.state = info.state;
    schedule(info.state === "ready" ? 30000 : 3000);
  }
  function schedule(ms) {
    setTimeout(refresh, ms);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", refresh);
  } else {
    refresh();
  }
})();
