// django_celery_beat's Periodic task form, as its own inline script does it: the crontab's
// description in words follows the chosen crontab in the field's help, and the raw translation
// field is hidden. Text is set as text, never as HTML (a crontab's description is stored data).
(() => {
  const $ = django.jQuery;
  const readable = JSON.parse(document.getElementById("readable-crontabs").textContent);
  const helpText = JSON.parse(document.getElementById("crontab-help-text").textContent);

  const showTranslation = (words) => {
    const help = $(".field-crontab .help").empty();
    help.append(document.createTextNode(helpText), document.createElement("br"));
    help.append(document.createTextNode(`Translation: ${words}`));
  };

  $(".field-crontab_translation").hide();
  $(".field-crontab").change(() => showTranslation(readable[$("#id_crontab").val()]));
})();
