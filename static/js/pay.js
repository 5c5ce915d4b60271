// Card payment: the card goes from the page to Stripe (Stripe.js), never to our
// server. We send our server the payment method's id; it confirms the order's one
// PaymentIntent; 3-D Secure, when asked, runs in the page; then the return page asks
// Stripe (server side) whether the order is paid.
(function () {
  var form = document.getElementById("pay-form");
  if (!form || typeof Stripe === "undefined") { return; }
  var stripe = Stripe(form.dataset.key);
  var card = stripe.elements().create("card");
  card.mount("#card-element");
  var button = document.getElementById("pay-button");
  var errorBox = document.getElementById("pay-error");

  function fail(message) {
    errorBox.textContent = message || "";
    button.disabled = false;
  }

  async function paymentMethodId() {
    // Stripe.js: a PaymentMethod. localstripe's stand-in has no createPaymentMethod:
    // there a token's card stands for it.
    var created = await stripe.createPaymentMethod({ type: "card", card: card });
    if (created && (created.paymentMethod || created.error)) {
      if (created.error) { throw created.error; }
      return created.paymentMethod.id;
    }
    var tokenResult = await stripe.createToken(card);
    if (tokenResult.error) { throw tokenResult.error; }
    return tokenResult.token.card.id;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    button.disabled = true;
    errorBox.textContent = "";
    try {
      form.elements.payment_method.value = await paymentMethodId();
    } catch (error) {
      fail(error.message);
      return;
    }
    var response = await fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "Accept": "application/json" },
    });
    var answer = await response.json().catch(function () { return {}; });
    if (answer.status === "requires_action") {
      var result = await stripe.confirmCardPayment(form.dataset.secret);
      if (result && result.error) {
        // Authentication failed: the return page shows it, and the buyer may retry.
      }
    } else if (!response.ok && answer.error) {
      fail(answer.error);
      return;
    }
    window.location.assign(form.dataset.return);
  });
}());
