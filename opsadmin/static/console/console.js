/* The console's behaviour that flask-admin writes as inline handlers (onclick="…"), bound here
   instead: the console's Content-Security-Policy runs no inline script. The templates under
   opsadmin/templates/admin/ carry data-* attributes in place of the handlers. */
(function () {
  "use strict";

  function closest(event, selector) {
    return event.target instanceof Element ? event.target.closest(selector) : null;
  }

  document.addEventListener("click", function (event) {
    var el;
    if ((el = closest(event, "[data-model-action]"))) {
      event.preventDefault();
      window.modelActions.execute(el.getAttribute("data-model-action"));
    } else if ((el = closest(event, "[data-inline-add]"))) {
      event.preventDefault();
      window.faForm.addInlineField(el, el.getAttribute("data-inline-add"));
    } else if ((el = closest(event, "[data-confirm-impact]"))) {
      // Save the form as typed, saying which list of bookings at risk the user has seen.
      var form = document.querySelector("form.admin-form");
      var field = document.createElement("input");
      field.type = "hidden";
      field.name = "confirm_impact";
      field.value = el.getAttribute("data-confirm-impact");
      form.appendChild(field);
      form.submit();
    } else if ((el = closest(event, "[data-confirm]"))) {
      if (!window.confirm(el.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    } else if ((el = closest(event, "a[href='#'], a[href^='javascript:']"))) {
      // Tabs, pager and menu toggles that lead nowhere (a javascript: URL would be refused).
      event.preventDefault();
    }
  });
})();
