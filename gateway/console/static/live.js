// 实时警情: subscribe to the unit's alert stream and show each alert as it lands, newest first.
// Text only (never innerHTML): an alert's document is data from another system.
(function () {
  const list = document.getElementById("alerts");
  const state = document.getElementById("stream-state");
  const source = new EventSource(list.dataset.stream);

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  source.onopen = function () {
    state.textContent = "告警流已连接，新警情将自动显示";
    state.className = "ok";
  };
  source.onerror = function () {
    state.textContent = "告警流连接中断，正在重新连接…";
    state.className = "warn";
  };
  source.addEventListener("alert", function (event) {
    const alert = JSON.parse(event.data);
    const item = element("li", "alert");
    item.dataset.messageId = alert.message_id;
    const when = new Date(alert.delivered_at).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });
    item.append(element("strong", "title", alert.title), element("span", "from", alert.sender_name), element("span", "when", when));
    const details = element("details");
    details.append(element("summary", "", "本单位格式的报文"), element("pre", "", alert.document));
    item.append(details);
    list.prepend(item);
  });
})();
